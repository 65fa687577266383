/**
 * Reads the vassal rows over one PostgreSQL connection kept open between reads (uWSGI opens one
 * per scan), LISTENing on the monitor's channel so a NOTIFY from the table's trigger nudges a
 * re-read at once. A lost connection nudges too, so an outage is reported without waiting for
 * the next poll. A plain SQL error (bad query, statement timeout) keeps the connection.
 */
import pg from 'pg';
import { EmperorError, ErrorCodes, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { SourceRow } from './desired-set.js';
import type { RowReader } from './poll.js';
import type { PgTarget } from './argument.js';
import type { Wakeup } from './wakeup.js';

const END_GRACE_MS = 2_000;

/** An error the server answered with, after which the session is still usable. */
function isSqlError(err: unknown): boolean {
  if (!(err instanceof pg.DatabaseError)) return false;
  const code = err.code ?? '';
  // 08: connection exception; 57P: shutdown, crash, cannot connect now.
  return !code.startsWith('08') && !code.startsWith('57P') && err.severity !== 'FATAL' && err.severity !== 'PANIC';
}

export class PgReader implements RowReader {
  private client: pg.Client | undefined;
  private broken = false;
  private listenRefusalLogged = false;

  constructor(
    private readonly target: PgTarget,
    private readonly wakeup: Wakeup,
    private readonly log: Logger,
  ) {}

  async read(): Promise<SourceRow[]> {
    if (this.broken) await this.close();
    const client = await this.connected();
    let result: pg.QueryArrayResult<unknown[]>;
    try {
      const res: unknown = await client.query({ text: this.target.query, rowMode: 'array' });
      // Several statements answer with one result each: the last one lists the vassals.
      result = (Array.isArray(res) ? res[res.length - 1] : res) as pg.QueryArrayResult<unknown[]>;
    } catch (err) {
      if (this.broken || !isSqlError(err)) await this.close();
      throw err;
    }
    const columns = result.fields?.length ?? 0;
    if (columns < 3 || columns > 6) {
      throw new EmperorError(ErrorCodes.MONITOR, `the query returns ${columns} column${columns === 1 ? '' : 's'}; expected 3 to 6: name, config, ts[, uid, gid[, socket]]`);
    }
    return result.rows.map((r, i) => ({
      position: i + 1,
      name: r[0],
      config: r[1],
      ts: r[2],
      uid: r[3],
      gid: r[4],
      socket: r[5],
    }));
  }

  private async connected(): Promise<pg.Client> {
    if (this.client !== undefined) return this.client;
    const client = new pg.Client(await this.target.clientConfig());
    this.client = client;
    this.broken = false;
    const lost = (err?: Error): void => {
      if (this.client !== client) return;
      this.broken = true;
      this.log.debug('connection lost', err === undefined ? {} : { reason: err.message });
      this.wakeup.nudge();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', () => this.wakeup.nudge());
    try {
      await client.connect();
    } catch (err) {
      await this.close();
      throw err;
    }
    const { channel } = this.target;
    if (channel !== undefined) {
      try {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        if (!isSqlError(err)) {
          await this.close();
          throw err;
        }
        // A hot standby refuses LISTEN; polling still works there.
        if (!this.listenRefusalLogged) {
          this.listenRefusalLogged = true;
          this.log.warn('LISTEN refused: reacting at each poll only', { channel, reason: describeError(err) });
        }
      }
    }
    return client;
  }

  close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.broken = false;
    if (client === undefined) return Promise.resolve();
    // end() waits for the server to close its side; a dead server must not hold the monitor.
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, END_GRACE_MS);
      client.end().catch(() => undefined).finally(() => { clearTimeout(timer); resolve(); });
    });
  }
}
