/**
 * Reads the vassal documents with one MongoClient kept between reads. Where the server offers
 * change streams (a replica set), any change to the collection nudges a re-read at once; a server
 * that refuses them (a standalone mongod) is polled only, and that is logged once. A query the
 * server rejects keeps the client; anything else (lost server, no answer in time) replaces it.
 */
import { MongoClient, MongoServerError, type ChangeStream, type Collection } from 'mongodb';
import { EmperorError, ErrorCodes, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { SourceRow } from '../pg/desired-set.js';
import type { RowReader } from '../pg/poll.js';
import type { Wakeup } from '../pg/wakeup.js';
import type { MongoTarget } from './argument.js';

const PROJECTION = { _id: 0, name: 1, config: 1, ts: 1, uid: 1, gid: 1, socket: 1 } as const;
const CLOSE_GRACE_MS = 2_000;

export class MongoReader implements RowReader {
  private client: MongoClient | undefined;
  private stream: ChangeStream | undefined;
  /** Whether this client already tried change streams; a new client (after an outage) tries again. */
  private watchTried = false;
  private refusalLogged = false;
  private followLogged = false;

  constructor(
    private readonly target: MongoTarget,
    private readonly wakeup: Wakeup,
    private readonly log: Logger,
    private readonly freq: number,
  ) {}

  async read(): Promise<SourceRow[]> {
    this.client ??= new MongoClient(this.target.uri, this.target.options);
    const client = this.client;
    try {
      const coll = client.db(this.target.database).collection(this.target.collection);
      // The stream is opened before the read so a change made during the read is not missed, but
      // not awaited: opening it waits for a first (empty) batch of changes, up to a second.
      if (!this.watchTried) {
        this.watch(client, coll).catch((err: unknown) => this.log.debug('change stream not opened', { reason: describeError(err) }));
      }
      const cursor = coll.find(this.target.filter, { projection: PROJECTION, sort: { _id: 1 } });
      if (this.target.maxTimeMS > 0) cursor.maxTimeMS(this.target.maxTimeMS);
      const docs = await this.deadline(client, cursor.toArray());
      return docs.map((d, i) => ({ position: i + 1, name: d.name, config: d.config, ts: d.ts, uid: d.uid, gid: d.gid, socket: d.socket }));
    } catch (err) {
      if (!(err instanceof MongoServerError)) await this.close();
      throw err;
    }
  }

  /**
   * A read must end even when the server stops answering without closing the connection: the
   * server-side limit plus as much again (at most 5 s more), and never before server selection
   * has had its own time to fail with a clearer reason.
   */
  private deadline<T>(client: MongoClient, work: Promise<T>): Promise<T> {
    const { maxTimeMS } = this.target;
    if (maxTimeMS === 0) return work;
    const ms = Math.max(maxTimeMS + Math.min(maxTimeMS, 5_000), client.options.serverSelectionTimeoutMS + 1_000);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new EmperorError(ErrorCodes.MONITOR, `the server did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  /** Opens the change stream and follows it; a server that refuses it is polled only. */
  private async watch(client: MongoClient, coll: Collection): Promise<void> {
    this.watchTried = true;
    const stream = coll.watch([]);
    this.stream = stream;
    let change: unknown;
    try {
      change = await this.deadline(client, stream.tryNext());
    } catch (err) {
      if (this.stream !== stream) return;
      this.stream = undefined;
      await stream.close().catch(() => undefined);
      if (err instanceof MongoServerError) {
        // Refused (standalone server, no privilege): stays refused until the next client.
        if (!this.refusalLogged) {
          this.refusalLogged = true;
          this.log.warn(`change streams unavailable: polling every ${this.freq} s`, { reason: describeError(err) });
        }
        return;
      }
      // Lost before it opened: the next read tries again.
      this.watchTried = false;
      this.wakeup.nudge();
      return;
    }
    if (this.stream !== stream) return;
    if (!this.followLogged) {
      this.followLogged = true;
      this.log.info("following the collection's change stream");
    }
    if (change !== null) this.wakeup.nudge();
    try {
      while (this.stream === stream) {
        await stream.next();
        this.wakeup.nudge();
      }
    } catch (err) {
      if (this.stream !== stream) return;
      // Invalidated (collection dropped) or lost: read again, and watch again with the next read.
      this.stream = undefined;
      this.watchTried = false;
      this.log.debug('change stream ended', { reason: describeError(err) });
      await stream.close().catch(() => undefined);
      this.wakeup.nudge();
    }
  }

  close(): Promise<void> {
    const { client, stream } = this;
    this.client = undefined;
    this.stream = undefined;
    this.watchTried = false;
    if (client === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_GRACE_MS);
      void (async () => {
        await stream?.close().catch(() => undefined);
        await client.close(true).catch(() => undefined);
      })().finally(() => { clearTimeout(timer); resolve(); });
    });
  }
}
