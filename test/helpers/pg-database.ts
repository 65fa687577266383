/**
 * A throwaway PostgreSQL database on 127.0.0.1:5432 for one test, dropped afterwards. Undefined
 * (with the reason) when the server is unreachable outside CI; in CI that is a failure.
 */
import pg from 'pg';
import { inCI } from './wait.js';

export interface TestDatabase {
  name: string;
  conninfo: string;
  client: pg.Client;
  drop(): Promise<void>;
}

export async function testDatabase(prefix: string): Promise<TestDatabase | { unavailable: string }> {
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  try {
    await admin.connect();
  } catch (err) {
    if (inCI) throw err;
    return { unavailable: `PostgreSQL is not reachable on 127.0.0.1:5432 (${(err as Error).message})` };
  }
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: name });
  await client.connect();
  return {
    name,
    conninfo: `host=127.0.0.1 port=5432 user=postgres dbname=${name}`,
    client,
    drop: async () => {
      await client.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
