/**
 * `emperor pg-setup`: installs the trigger that makes a pg:// monitor react at once. Every
 * statement that changes the vassals table (INSERT, UPDATE, DELETE, TRUNCATE) NOTIFYs the
 * monitor's channel when its transaction commits; one notification per statement, however many
 * rows it touched. Running it again replaces the function and the trigger: it is idempotent.
 */
import pg from 'pg';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { failureReason } from './poll.js';
import { splitPgArgument } from './argument.js';
import { DEFAULT_CHANNEL } from './connection.js';

export const DEFAULT_TABLE = 'vassals';

export interface PgSetupOptions {
  /** The vassals table, optionally schema-qualified (`fleet.vassals`); names are case-sensitive. */
  table: string;
  /** The channel the monitor LISTENs on. */
  channel: string;
}

function quoteTable(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw new EmperorError(ErrorCodes.USAGE, `pg-setup: table must be NAME or SCHEMA.NAME, got ${JSON.stringify(table)}`, { key: 'table' });
  }
  return parts.map((p) => pg.escapeIdentifier(p)).join('.');
}

/** The SQL script (plpgsql function + statement-level trigger), runnable with psql as well. */
export function pgSetupSql(opts: PgSetupOptions): string {
  const table = quoteTable(opts.table);
  if (opts.channel === '' || Buffer.byteLength(opts.channel) > 63) {
    throw new EmperorError(ErrorCodes.USAGE, `pg-setup: channel must be 1 to 63 bytes, got ${JSON.stringify(opts.channel)}`, { key: 'channel' });
  }
  const trigger = pg.escapeIdentifier(`emperor_notify_${opts.channel}`);
  return `-- Emperor: NOTIFY channel ${JSON.stringify(opts.channel)} whenever ${opts.table} changes, so a pg:// monitor
-- re-reads at once instead of at its next poll. Safe to run again.
BEGIN;

CREATE OR REPLACE FUNCTION emperor_notify() RETURNS trigger
LANGUAGE plpgsql AS $emperor$
BEGIN
  -- The channel is the trigger's argument; the payload names the operation.
  PERFORM pg_notify(TG_ARGV[0], TG_OP);
  RETURN NULL;
END
$emperor$;

DROP TRIGGER IF EXISTS ${trigger} ON ${table};
CREATE TRIGGER ${trigger}
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION emperor_notify(${pg.escapeLiteral(opts.channel)});

COMMIT;
`;
}

/**
 * Connects with a pg:// argument or its connection part (conninfo or URL; a query after `;` is
 * ignored) and installs the trigger. The table defaults to `vassals`, the channel to the one the
 * connection names (`channel=`) or `emperor_vassals`.
 */
export async function runPgSetup(conn: string, opts: Partial<PgSetupOptions> = {}): Promise<void> {
  const { connection } = splitPgArgument(conn);
  const table = opts.table ?? DEFAULT_TABLE;
  const sql = pgSetupSql({ table, channel: opts.channel ?? connection.channel ?? DEFAULT_CHANNEL });
  const client = new pg.Client(await connection.clientConfig());
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
  } catch (err) {
    throw new EmperorError(ErrorCodes.MONITOR, `pg-setup: cannot install the trigger on ${table} (${connection.masked}): ${failureReason(err)}`, { cause: err });
  } finally {
    await client.end().catch(() => undefined);
  }
}
