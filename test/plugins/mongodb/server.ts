/**
 * The MongoDB server the mongodb:// tests run against: MONGODB_URL when set (a real server; a
 * replica set gives change streams), else the CongoServer stand-in from the test-only package in
 * test/mongo-server (installed with `cd test/mongo-server && MONGOMS_DISABLE_POSTINSTALL=1 npm ci`),
 * started in this process on a free port. Outside CI a missing stand-in skips with the reason.
 */
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { freePort, inCI } from '../../helpers/wait.js';

export interface TestMongo {
  kind: 'stand-in' | 'MONGODB_URL';
  /** A connection string for the test's own client. */
  url: string;
  /** host:port of the stand-in (undefined for MONGODB_URL). */
  address: string | undefined;
  /** Stand-in only: stops listening and drops every connection; the data stays. */
  stop?: () => Promise<void>;
  /** Stand-in only: listens again on the same port, with the same data. */
  start?: () => Promise<void>;
  close(): Promise<void>;
}

/** The part of CongoServer the tests use. */
interface CongoServer {
  start(): Promise<void>;
  stop(): Promise<void>;
}
interface CongoModule {
  CongoServer: new (opts: { port: number; host: string }) => CongoServer;
}

const STAND_IN = new URL('../../mongo-server/node_modules/@push.rocks/smartmongo/dist_ts/congodb/index.js', import.meta.url);
export const INSTALL_HINT = '(cd test/mongo-server && MONGOMS_DISABLE_POSTINSTALL=1 npm ci)';

/** The server, or the reason there is none (only outside CI). */
export async function startMongo(): Promise<TestMongo | string> {
  const external = process.env.MONGODB_URL;
  if (external !== undefined && external !== '') {
    process.stdout.write(`mongodb tests: using MONGODB_URL (${external.replace(/\/\/[^@/]*@/, '//***@')})\n`);
    return { kind: 'MONGODB_URL', url: external, address: undefined, close: async () => undefined };
  }
  try {
    await access(fileURLToPath(STAND_IN));
  } catch {
    const reason = `the MongoDB stand-in is not installed and MONGODB_URL is not set: run ${INSTALL_HINT}`;
    if (inCI) throw new Error(`CI is set and ${reason}`);
    return reason;
  }
  const mod = (await import(STAND_IN.href)) as CongoModule;
  const port = await freePort();
  const server = new mod.CongoServer({ port, host: '127.0.0.1' });
  await server.start();
  let running = true;
  process.stdout.write(`mongodb tests: using the CongoServer stand-in on 127.0.0.1:${port} (no change streams)\n`);
  return {
    kind: 'stand-in',
    url: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    address: `127.0.0.1:${port}`,
    stop: async () => { running = false; await server.stop(); },
    start: async () => { await server.start(); running = true; },
    close: async () => { if (running) await server.stop(); running = false; },
  };
}

/**
 * A monitor argument in connection-string form for database `db` and collection `collection`,
 * built on `url`: its hosts and options are kept, and a database it named stays the authSource.
 */
export function connectionStringArg(url: string, db: string, collection: string, extra: Record<string, string> = {}): string {
  const q = url.indexOf('?');
  const head = q < 0 ? url : url.slice(0, q);
  const afterScheme = head.indexOf('//') + 2;
  const slash = head.indexOf('/', afterScheme);
  const hosts = slash < 0 ? head : head.slice(0, slash);
  const originalDb = slash < 0 ? '' : head.slice(slash + 1);
  const options = q < 0 ? [] : url.slice(q + 1).split('&').filter((p) => p !== '');
  if (originalDb !== '' && !options.some((o) => o.toLowerCase().startsWith('authsource='))) options.push(`authSource=${originalDb}`);
  for (const [k, v] of Object.entries({ collection, ...extra })) options.push(`${k}=${encodeURIComponent(v)}`);
  return `${hosts}/${encodeURIComponent(db)}?${options.join('&')}`;
}
