/**
 * A PostgreSQL database of its own for one test file, on the machine's server (127.0.0.1:5432,
 * trust auth, user postgres or root), dropped at the end. Outside CI a missing server skips the
 * tests with the reason; in CI it fails them.
 */
import pg from 'pg';
import { inCI } from '../../helpers/wait.js';

export interface TestDb {
  name: string;
  user: string;
  /** libpq conninfo for the test database. */
  conninfo: string;
  /** postgresql:// URL for the test database. */
  url: string;
  /** Runs a statement in the test database (reconnecting after a server restart). */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  drop(): Promise<void>;
}

const HOST = '127.0.0.1';
const PORT = 5432;

async function connect(user: string, database: string): Promise<pg.Client> {
  const client = new pg.Client({ host: HOST, port: PORT, user, database, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/** The database, or the reason there is none (only outside CI). */
export async function createTestDb(): Promise<TestDb | string> {
  let user: string | undefined;
  let admin: pg.Client | undefined;
  let reason = '';
  for (const candidate of ['postgres', 'root']) {
    try {
      admin = await connect(candidate, 'postgres');
      user = candidate;
      break;
    } catch (err) {
      reason = `no PostgreSQL at ${HOST}:${PORT} for user ${candidate}: ${(err as Error).message}`;
    }
  }
  if (admin === undefined || user === undefined) {
    if (inCI) throw new Error(`CI is set and ${reason}`);
    return reason;
  }
  const owner = user;
  const name = `emperor_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  await admin.end();
  let client: pg.Client | undefined;
  return {
    name,
    user: owner,
    conninfo: `host=${HOST} port=${PORT} user=${owner} dbname=${name}`,
    url: `postgresql://${owner}@${HOST}:${PORT}/${name}`,
    async query(text, values) {
      for (let attempt = 0; ; attempt += 1) {
        client ??= await connect(owner, name);
        try {
          return await client.query(text, values);
        } catch (err) {
          // A connection the server dropped (restart) is replaced once; SQL errors are the test's.
          if ((err instanceof pg.DatabaseError && !(err.code ?? '').startsWith('57P')) || attempt > 0) throw err;
          await client.end().catch(() => undefined);
          client = undefined;
        }
      }
    },
    async drop() {
      await client?.end().catch(() => undefined);
      const a = await connect(owner, 'postgres');
      try {
        await a.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
