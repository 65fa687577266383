/**
 * `sources`: a vassal announced by an event-driven source until it is ready: a ZeroMQ message, an
 * AMQP message, a PostgreSQL row change (with the NOTIFY trigger `emperor pg-setup` installs), and
 * a MongoDB document when a server is given (MONGODB_URL). Each source runs against a real service
 * with names of its own (endpoint, exchange, table), and is skipped with the reason when the
 * plugin or the service is absent.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { now, sleep } from './lib/clock.js';
import { EmperorUnderTest } from './lib/emperor.js';
import { AppearanceWatcher, freshDir } from './lib/files.js';
import { freePort } from './lib/stats-client.js';
import { describe, summarize } from './lib/stats.js';
import { figure, missing, type Benchmark, type BenchContext, type Figure, type Target } from './lib/types.js';
import { instantVassal, readyPath } from './lib/vassals.js';

/** One event-driven source as the bench drives it. */
export interface Driver {
  /** The monitor argument. */
  arg: string;
  /** Announce (or re-announce) vassal `name` with config `text`. */
  touch(name: string, text: string): Promise<void>;
  remove(name: string): Promise<void>;
  close(): Promise<void>;
}

const WARMUP = 3;

/** Times `n` announcements of new vassals through `driver`, each removed before the next. */
export async function timeSource(ctx: BenchContext, label: string, driver: Driver, n: number, target: Target | undefined, method: string): Promise<{ figures: Figure[]; notes: string[] }> {
  // The driver (a connection, a socket) is closed however the run ends.
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await driver.close();
  };
  ctx.cleanup.add(`close ${label} driver`, close);
  const base = freshDir(ctx, 'source');
  const readyDir = join(base, 'ready');
  mkdirSync(readyDir);
  const watcher = new AppearanceWatcher(readyDir);
  ctx.cleanup.add('close watcher', () => watcher.close());
  const emperor = await EmperorUnderTest.launch(ctx, { args: [driver.arg] });
  const tag = randomBytes(3).toString('hex');
  const total: number[] = [];
  // The first announcement is repeated until it takes: a subscription may still be settling.
  const first = `w${tag}.ini`;
  const firstReady = emperor.next(first, 'ready', 60_000);
  let settled = false;
  void firstReady.then(() => (settled = true), () => undefined);
  for (let i = 0; i < 60 && !settled; i++) {
    await driver.touch(first, instantVassal(readyPath(readyDir, first))).catch(() => undefined);
    await Promise.race([firstReady.catch(() => undefined), sleep(1000)]);
  }
  await firstReady;
  const gone = emperor.next(first, 'stopped', 30_000);
  await driver.remove(first);
  await gone;
  for (let i = 0; i < WARMUP + n; i++) {
    const name = `m${tag}${i}.ini`;
    const ready = emperor.next(name, 'ready', 30_000);
    const text = instantVassal(readyPath(readyDir, name));
    const t0 = now();
    await driver.touch(name, text);
    const r = await ready;
    if (i >= WARMUP) total.push(r.at - t0);
    const stopped = emperor.next(name, 'stopped', 30_000);
    await driver.remove(name);
    await stopped;
  }
  const cmd = emperor.command;
  await emperor.stop();
  await close();
  const s = summarize(total);
  ctx.log(`${label}: ${describe(s)}`);
  return {
    figures: [
      figure(`${label}: message → vassal ready, p50`, s.p50, 'ms', { ...(target ? { target } : {}), command: cmd, note: describe(s) }),
      figure(`${label}: p95`, s.p95, 'ms', { command: cmd }),
    ],
    notes: [`${label}: ${method} t0 is taken just before the bench hands the message over; t1 when it reads the vassal's \`ready\` event. ${WARMUP} warm-up vassals are not counted; each vassal is removed through the same source (and awaited) before the next.`],
  };
}

async function zmqDriver(): Promise<Driver> {
  const { Push } = await import('zeromq');
  const port = await freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  const sock = new Push({ sendTimeout: 10_000, linger: 0 });
  sock.connect(endpoint);
  return {
    arg: `zmq://${endpoint}`,
    touch: (name, text) => sock.send(['touch', name, text]),
    remove: (name) => sock.send(['destroy', name]),
    close: async () => sock.close(),
  };
}

async function amqpDriver(): Promise<Driver> {
  const amqp = (await import('amqplib')).default;
  const exchange = `emperor-bench-${process.pid}-${randomBytes(3).toString('hex')}`;
  const url = 'amqp://guest:guest@127.0.0.1:5672';
  const conn = await amqp.connect(url, { timeout: 5000 });
  conn.on('error', () => undefined);
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => undefined);
  // Declared the way the monitor declares it (fanout, not durable), so whoever comes first agrees.
  await ch.assertExchange(exchange, 'fanout', { durable: false });
  const publish = (name: string, body: string): Promise<void> =>
    new Promise((resolve, reject) => ch.publish(exchange, name, Buffer.from(body), { contentType: 'text/plain' }, (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve())));
  return {
    arg: `${url}/?exchange=${exchange}`,
    touch: (name, text) => publish(name, text),
    remove: (name) => publish(name, ''),
    close: async () => {
      await ch.deleteExchange(exchange).catch(() => undefined);
      await conn.close().catch(() => undefined);
    },
  };
}

async function pgDriver(ctx: BenchContext): Promise<{ driver: Driver; notify: boolean }> {
  const pg = (await import('pg')).default;
  let client: InstanceType<typeof pg.Client> | undefined;
  let user = '';
  let lastErr: unknown;
  for (const u of ['postgres', 'root']) {
    const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: u, database: 'test', connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      client = c;
      user = u;
      break;
    } catch (err) {
      lastErr = err;
      await c.end().catch(() => undefined);
    }
  }
  if (!client) throw new Error(`no PostgreSQL at 127.0.0.1:5432 (db test, user postgres or root): ${lastErr instanceof Error ? lastErr.message : String(lastErr)}`);
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const table = `bench_vassals_${suffix}`;
  const channel = `bench_${suffix}`;
  const db = client;
  await db.query(`CREATE TABLE ${table} (name text PRIMARY KEY, config text NOT NULL, ts timestamptz NOT NULL DEFAULT now())`);
  ctx.cleanup.add(`drop table ${table}`, async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await db.end().catch(() => undefined);
  });
  const conninfo = `host=127.0.0.1 port=5432 dbname=test user=${user} channel=${channel}`;
  let notify = false;
  if (ctx.features.module('plugins/pg/setup.ts')) {
    const setup = (await import('../plugins/pg/setup.js')) as { runPgSetup(conn: string, opts: { table?: string; channel?: string }): Promise<void> };
    await setup.runPgSetup(conninfo, { table, channel });
    notify = true;
  }
  return {
    notify,
    driver: {
      arg: `pg://${conninfo};SELECT name,config,EXTRACT(epoch FROM ts) FROM ${table}`,
      touch: async (name, text) => {
        await db.query(`INSERT INTO ${table} (name, config) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, ts = now()`, [name, text]);
      },
      remove: async (name) => {
        await db.query(`DELETE FROM ${table} WHERE name = $1`, [name]);
      },
      close: async () => undefined,
    },
  };
}

async function mongoDriver(ctx: BenchContext, url: string): Promise<Driver> {
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const dbName = `emperor_bench_${process.pid}`;
  const coll = client.db(dbName).collection('vassals');
  ctx.cleanup.add(`drop database ${dbName}`, async () => {
    await client.db(dbName).dropDatabase().catch(() => undefined);
    await client.close().catch(() => undefined);
  });
  const u = new URL(url);
  u.pathname = `/${dbName}`;
  u.searchParams.set('collection', 'vassals');
  return {
    arg: u.toString(),
    touch: async (name, text) => {
      await coll.updateOne({ name }, { $set: { name, config: text, ts: new Date() } }, { upsert: true });
    },
    remove: async (name) => {
      await coll.deleteOne({ name });
    },
    close: async () => undefined,
  };
}

const sources: Benchmark = {
  name: 'sources',
  title: 'Event-driven sources: message or row change → vassal ready',
  async run(ctx) {
    const n = ctx.quick ? 10 : 30;
    const figures: Figure[] = [];
    const notes: string[] = [];
    const add = (r: { figures: Figure[]; notes: string[] }): void => {
      figures.push(...r.figures);
      notes.push(...r.notes);
    };
    const tryService = async (label: string, plugin: string, target: Target | undefined, run: () => Promise<{ figures: Figure[]; notes: string[] }>): Promise<void> => {
      if (!ctx.features.module(plugin)) {
        figures.push(missing(`${label}: message → vassal ready, p50`, 'ms', `${plugin} does not exist yet`, { ...(target ? { target } : {}), unavailable: true }));
        return;
      }
      try {
        add(await run());
      } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
        ctx.log(`${label} not measured: ${why}`);
        figures.push(missing(`${label}: message → vassal ready, p50`, 'ms', why, target ? { target } : {}));
      } finally {
        await ctx.cleanup.runAll();
      }
    };

    await tryService('zmq', 'plugins/zmq/index.ts', { op: '<=', value: 10 }, async () =>
      timeSource(ctx, 'zmq', await zmqDriver(), n, { op: '<=', value: 10 }, 'the bench keeps one connected PUSH socket and sends `[touch, NAME, CONFIG]` (and `[destroy, NAME]`) to the emperor\'s PULL socket.'));
    await tryService('amqp', 'plugins/amqp/index.ts', { op: '<=', value: 20 }, async () =>
      timeSource(ctx, 'amqp', await amqpDriver(), n, { op: '<=', value: 20 }, 'RabbitMQ at 127.0.0.1:5672; the bench publishes on a confirm channel to a fanout exchange of its own, routing key = vassal name, body = config (empty body removes); the time includes the broker\'s confirm.'));
    await tryService('pg', 'plugins/pg/index.ts', { op: '<=', value: 100 }, async () => {
      const { driver, notify } = await pgDriver(ctx);
      const r = await timeSource(ctx, notify ? 'pg (NOTIFY)' : 'pg (polling: no trigger installer in the tree)', driver, n, { op: '<=', value: 100 }, `PostgreSQL at 127.0.0.1:5432 (db test), a table of its own${notify ? ' with the statement trigger of plugins/pg/setup.ts (NOTIFY on commit)' : ''}; t0 is before the INSERT (autocommit), so the time includes the commit, the notification, the monitor's re-read of the query and the spawn.`);
      return r;
    });
    const mongoUrl = process.env.MONGODB_URL;
    if (!ctx.features.module('plugins/mongodb/index.ts')) {
      figures.push(missing('mongodb: message → vassal ready, p50', 'ms', 'plugins/mongodb does not exist yet', { unavailable: true }));
    } else if (!mongoUrl) {
      figures.push(missing('mongodb: message → vassal ready, p50', 'ms', 'no MongoDB server here: set MONGODB_URL to measure (no target in the issue)'));
    } else {
      await tryService('mongodb', 'plugins/mongodb/index.ts', undefined, async () => timeSource(ctx, 'mongodb', await mongoDriver(ctx, mongoUrl), n, undefined, 'MONGODB_URL; the bench upserts a document {name, config, ts: Date} in a database of its own.'));
    }
    return { figures, notes };
  },
};

export default sources;
