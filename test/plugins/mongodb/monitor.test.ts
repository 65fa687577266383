/**
 * The mongodb:// monitor against MONGODB_URL when set, else against the CongoServer stand-in
 * (no change streams: the polling path and the fallback are tested there; the change-stream path
 * only against a replica set given by MONGODB_URL).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { waitFor } from '../../helpers/wait.js';
import type { MemoryLogger } from '../../../src/log/logger.js';
import type { MonitorContext } from '../../../src/monitors/types.js';
import { createMongoMonitor } from '../../../plugins/mongodb/monitor.js';
import { EventLog, byName, names, testContext } from '../pg/monitor-events.js';
import { freezableProxy } from './proxy.js';
import { connectionStringArg, startMongo, type TestMongo } from './server.js';

let server: TestMongo | undefined;
let client: MongoClient | undefined;
let db: Db | undefined;
let skipReason = '';
const dbName = `emperor_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const logs: EventLog[] = [];

before(async () => {
  const r = await startMongo();
  if (typeof r === 'string') {
    skipReason = r;
    return;
  }
  server = r;
  client = new MongoClient(r.url, { serverSelectionTimeoutMS: 5_000 });
  db = client.db(dbName);
});

after(async () => {
  await Promise.allSettled(logs.map((l) => l.stop()));
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
  await server?.close();
});

function need(t: TestContext): { server: TestMongo; db: Db } | undefined {
  if (server === undefined || db === undefined) {
    t.skip(skipReason);
    return undefined;
  }
  return { server, db };
}

/** uWSGI's form on the stand-in; the connection-string form on MONGODB_URL (it may carry auth, replicaSet). */
function argFor(s: TestMongo, collection: string, filter = ''): string {
  if (s.kind === 'stand-in') return `mongodb://${s.address},${dbName}.${collection},${filter}`;
  return connectionStringArg(s.url, dbName, collection, filter === '' ? {} : { filter });
}

function watch(arg: string, ctx: MonitorContext): EventLog {
  const log = new EventLog(createMongoMonitor(arg, ctx));
  logs.push(log);
  return log;
}

function retries(log: MemoryLogger, n: number, since: number): Promise<unknown> {
  return waitFor(() => log.records.slice(since).filter((r) => r.msg === 'read failed again').length >= n, { what: `${n} more failed reads` });
}

test('documents become vassals; a greater ts reloads, a smaller one does not; a deleted one goes', async (t) => {
  const m = need(t);
  if (!m) return;
  const coll = m.db.collection('basic');
  const arg = argFor(m.server, 'basic', '{enabled:1}');
  const log = watch(arg, testContext({ freq: 0.1 }));
  await log.snapshot((s) => s.length === 0, { what: 'the first (empty) snapshot' });

  await coll.insertMany([
    { name: 'app.ini', config: '[vassal]\ncommand = true', ts: new Date(100_000), enabled: 1, uid: 1000, gid: 1000, socket: '127.0.0.1:4041' },
    { name: 'off.ini', config: 'x', ts: new Date(100_000), enabled: 0 },
  ]);
  const added = await log.snapshot((s) => byName(s, 'app.ini') !== undefined);
  assert.deepEqual(added.specs, [{
    name: 'app.ini',
    source: arg,
    config: { text: '[vassal]\ncommand = true', format: 'ini' },
    revision: '100',
    pushed: true,
    uid: 1000,
    gid: 1000,
    socket: '127.0.0.1:4041',
  }], 'the filter leaves out enabled: 0');

  await coll.updateOne({ name: 'app.ini' }, { $set: { ts: new Date(200_500), config: 'v2' } });
  const reloaded = await log.snapshot((s) => byName(s, 'app.ini')?.revision === '200.5');
  assert.equal(byName(reloaded.specs, 'app.ini')?.config.text, 'v2');

  await coll.updateOne({ name: 'app.ini' }, { $set: { ts: new Date(150_000), config: 'v3' } });
  const mark = log.mark();
  await log.reads(3, mark);
  for (const s of log.snapshotsSince(mark)) {
    assert.deepEqual([byName(s.specs, 'app.ini')?.revision, byName(s.specs, 'app.ini')?.config.text], ['200.5', 'v2'], 'a smaller ts must not reload');
  }

  await coll.deleteOne({ name: 'app.ini' });
  await log.snapshot((s) => s.length === 0, { mark: log.mark() });
  assert.deepEqual(log.errorsSince(0), []);
  await log.stop();
});

test('the connection-string form with collection= and filter= reads the same', async (t) => {
  const m = need(t);
  if (!m) return;
  await m.db.collection('forms').insertMany([
    { name: 'a.json', config: '{}', ts: new Date(5_000), kind: 'web' },
    { name: 'b.xml', config: '<vassal/>', ts: new Date(5_000), kind: 'batch' },
  ]);
  const arg = connectionStringArg(m.server.url, dbName, 'forms', { filter: `{kind: 'web'}` });
  const log = watch(arg, testContext({ freq: 0.1 }));
  const s = await log.snapshot(() => true);
  assert.deepEqual(s.specs.map((x) => [x.name, x.config.format, x.revision]), [['a.json', 'json', '5']]);
  assert.equal(log.monitor.id, arg);
  await log.stop();
});

/** Whether the server behind the test refuses change streams, once the monitor has found out. */
async function refusedStreams(ctx: { log: MemoryLogger }): Promise<boolean> {
  const r = await ctx.log.waitFor((x) => x.msg.startsWith('change streams unavailable') || x.msg.startsWith('following the collection'));
  return r.msg.startsWith('change streams unavailable');
}

test('a server without change streams is polled; the refusal is logged once, as a warning', async (t) => {
  const m = need(t);
  if (!m) return;
  const coll = m.db.collection('polled');
  await coll.insertOne({ name: 'seed.ini', config: 'x', ts: new Date(1_000) });
  const ctx = testContext({ freq: 0.1 });
  const log = watch(argFor(m.server, 'polled'), ctx);
  await log.snapshot((s) => s.length === 1);
  if (!(await refusedStreams(ctx))) {
    await log.stop();
    t.skip(`this server (${m.server.kind}) has change streams: the fallback cannot be shown on it`);
    return;
  }
  const refusal = ctx.log.records.find((r) => r.msg.startsWith('change streams unavailable'));
  assert.equal(refusal?.level, 'warn');
  assert.match(refusal?.msg ?? '', /polling every 0.1 s/);
  await coll.insertOne({ name: 'polled.ini', config: 'x', ts: new Date(1_000) });
  await log.snapshot((s) => byName(s, 'polled.ini') !== undefined);
  await log.reads(3, log.mark());
  assert.equal(ctx.log.records.filter((r) => r.msg.startsWith('change streams unavailable')).length, 1, 'logged once');
  assert.deepEqual(log.errorsSince(0), [], 'a refusal is not an error');
  await log.stop();
});

test('change streams: a change is seen at once, not at the next poll', async (t) => {
  const m = need(t);
  if (!m) return;
  const coll = m.db.collection('streams');
  // freq 30: only a change event can explain a reaction within the deadlines below.
  const ctx = testContext({ freq: 30 });
  const log = watch(argFor(m.server, 'streams'), ctx);
  await log.snapshot((s) => s.length === 0);
  if (await refusedStreams(ctx)) {
    await log.stop();
    t.skip(`${m.server.kind} has no change streams: set MONGODB_URL to a replica set (e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0) to test them`);
    return;
  }
  assert.ok(ctx.log.records.some((r) => r.msg.startsWith('following the collection')));
  const t0 = performance.now();
  await coll.insertOne({ name: 'instant.ini', config: 'x', ts: new Date(1_000) });
  const seen = await log.snapshot((s) => byName(s, 'instant.ini') !== undefined, { timeoutMs: 5_000 });
  t.diagnostic(`insert to snapshot: ${(seen.at - t0).toFixed(1)} ms`);
  assert.ok(seen.at - t0 < 2_000);
  const t1 = performance.now();
  await coll.deleteMany({});
  const gone = await log.snapshot((s) => s.length === 0, { mark: log.mark(), timeoutMs: 5_000 });
  assert.ok(gone.at - t1 < 2_000);
  await log.stop();
});

test('bad documents are reported with their name and reason, once, and skipped', async (t) => {
  const m = need(t);
  if (!m) return;
  const coll = m.db.collection('bad');
  await coll.insertMany([
    { name: 'good.ini', config: 'x', ts: new Date(1_000) },
    { config: 'x', ts: new Date(1_000) },
    { name: 'noconf.ini', ts: new Date(1_000) },
    { name: 'nots.ini', config: 'x' },
    { name: 'textts.ini', config: 'x', ts: 'yesterday' },
    { name: 'epoch.ini', config: 'x', ts: 1_700_000_000 },
    { name: 'noext', config: 'x', ts: new Date(1_000) },
    { name: 'a/b.ini', config: 'x', ts: new Date(1_000) },
    { name: 'good.ini', config: 'second', ts: new Date(2_000) },
    { name: 'baduid.ini', config: 'x', ts: new Date(1_000), uid: 'abc' },
    { name: 'badconf.ini', config: 'not [ini', ts: new Date(1_000) },
  ]);
  const log = watch(argFor(m.server, 'bad'), testContext({ freq: 0.1 }));
  const s = await log.snapshot(() => true);
  assert.deepEqual(names(s.specs), ['badconf.ini', 'epoch.ini', 'good.ini']);
  assert.equal(byName(s.specs, 'good.ini')?.config.text, 'x', 'the first document wins');
  assert.equal(byName(s.specs, 'epoch.ini')?.revision, '1700000000');
  const errors = log.errorsSince(0);
  assert.deepEqual(errors.map((e) => e.name), [undefined, 'noconf.ini', 'nots.ini', 'textts.ini', 'noext', 'a/b.ini', 'good.ini', 'baduid.ini']);
  assert.match(errors[0]?.error.message ?? '', /^document 2: name is NULL/);

  const mark = log.mark();
  await log.reads(3, mark);
  assert.deepEqual(log.errorsSince(mark), [], 'unchanged bad documents are not reported again');
  await coll.updateOne({ name: 'textts.ini' }, { $set: { config: 'changed' } });
  assert.equal((await log.error(/textts\.ini/, { mark })).name, 'textts.ini');
  await log.stop();
});

test('tyrant mode requires uid and gid above 0', async (t) => {
  const m = need(t);
  if (!m) return;
  await m.db.collection('tyrant').insertMany([
    { name: 'ok.ini', config: 'x', ts: new Date(1_000), uid: 1000, gid: 1000 },
    { name: 'none.ini', config: 'x', ts: new Date(1_000) },
    { name: 'root.ini', config: 'x', ts: new Date(1_000), uid: 0, gid: 0 },
  ]);
  const log = watch(argFor(m.server, 'tyrant'), testContext({ freq: 0.1, tyrant: true }));
  const s = await log.snapshot(() => true);
  assert.deepEqual(s.specs.map((x) => [x.name, x.uid, x.gid]), [['ok.ini', 1000, 1000]]);
  assert.deepEqual(log.errorsSince(0).map((e) => e.name), ['none.ini', 'root.ini']);
  await log.stop();
});

test('%h in the filter: monitors on two nodes each see only their documents', async (t) => {
  const m = need(t);
  if (!m) return;
  await m.db.collection('nodes').insertMany([
    { name: 'a1.ini', config: 'x', ts: new Date(1_000), node: 'alpha' },
    { name: 'b1.ini', config: 'x', ts: new Date(1_000), node: 'beta' },
    { name: 'b2.ini', config: 'x', ts: new Date(1_000), node: 'beta' },
  ]);
  const arg = argFor(m.server, 'nodes', `{node: '%h'}`);
  const alpha = watch(arg, testContext({ freq: 0.1, nodeName: 'alpha' }));
  const beta = watch(arg, testContext({ freq: 0.1, nodeName: 'beta' }));
  assert.deepEqual(names((await alpha.snapshot(() => true)).specs), ['a1.ini']);
  assert.deepEqual(names((await beta.snapshot(() => true)).specs), ['b1.ini', 'b2.ini']);
  await alpha.stop();
  await beta.stop();
});

test('a query the server rejects is reported once and yields no snapshot', async (t) => {
  const m = need(t);
  if (!m) return;
  const ctx = testContext({ freq: 0.1 });
  const log = watch(argFor(m.server, 'bad', '{name: {$bogus: 1}}'), ctx);
  const err = await log.error(/\$bogus/);
  assert.equal((err.error as { code?: string }).code, 'EMP_ERR_MONITOR');
  await retries(ctx.log, 2, 0);
  assert.equal(log.snapshotsSince(0).length, 0);
  assert.equal(log.errorsSince(0).length, 1);
  await log.stop();
});

test('a server that stops answering: the read times out, no snapshot, then recovery', async (t) => {
  const m = need(t);
  if (!m) return;
  if (m.server.address === undefined) {
    t.skip('needs the stand-in (MONGODB_URL is set): the relay is put between the monitor and one server');
    return;
  }
  const [host = '', port = ''] = m.server.address.split(':');
  const proxy = await freezableProxy(host, Number(port));
  try {
    await m.db.collection('hang').insertOne({ name: 'hang.ini', config: 'x', ts: new Date(9_000) });
    const arg = `mongodb://127.0.0.1:${proxy.port}/${dbName}?directConnection=true&serverSelectionTimeoutMS=1000&collection=hang&maxTimeMS=300`;
    const ctx = testContext({ freq: 0.1 });
    const log = watch(arg, ctx);
    await log.snapshot((s) => s.length === 1);

    proxy.freeze();
    const mark = log.mark();
    const err = await log.error(/did not answer within 2000 ms|timed out|Server selection/i, { mark, timeoutMs: 10_000 });
    assert.deepEqual(log.snapshotsSince(mark).filter((s) => s.at > err.at), [], 'no snapshot while the server hangs');
    proxy.thaw();
    const back = await log.snapshot((s) => s.length === 1, { mark: log.mark(), timeoutMs: 15_000 });
    assert.equal(back.specs[0]?.revision, '9');
    assert.ok(log.snapshotsSince(mark).every((s) => s.specs.length === 1), 'never a removal');
    await log.stop();
  } finally {
    await proxy.close();
  }
});

test('outage: the server stops and comes back on the same port; no snapshot meanwhile, then recovery', async (t) => {
  const m = need(t);
  if (!m) return;
  const { stop, start } = m.server;
  if (stop === undefined || start === undefined) {
    t.skip('MONGODB_URL is set: a server this test does not own is not stopped');
    return;
  }
  await m.db.collection('outage').insertOne({ name: 'keep.ini', config: 'x', ts: new Date(5_000) });
  const ctx = testContext({ freq: 0.2 });
  // A short server selection timeout: each failed attempt during the outage ends within 1 s.
  const arg = connectionStringArg(m.server.url, dbName, 'outage', { serverSelectionTimeoutMS: '1000' });
  const log = watch(arg, ctx);
  // A second monitor, stopped during the outage: it must end at once, not after a timeout.
  const other = watch(argFor(m.server, 'outage'), testContext({ freq: 0.2 }));
  await log.snapshot((s) => s.length === 1);
  await other.snapshot((s) => s.length === 1);

  const mark = log.mark();
  let restarted = false;
  await stop();
  try {
    const err = await log.error(/cannot read the vassals/, { mark, timeoutMs: 15_000 });
    await retries(ctx.log, 1, 0);
    const t0 = performance.now();
    await other.stop();
    assert.ok(performance.now() - t0 < 3_000, 'a monitor stops promptly during an outage');
    assert.deepEqual(log.snapshotsSince(mark).filter((s) => s.at > err.at), [], 'no snapshot during the outage');
    await start();
    restarted = true;
  } finally {
    if (!restarted) await start();
  }
  const back = await log.snapshot((s) => s.length === 1, { mark: log.mark(), timeoutMs: 20_000 });
  assert.deepEqual(back.specs.map((s) => [s.name, s.revision]), [['keep.ini', '5']]);
  assert.ok(log.snapshotsSince(mark).every((s) => s.specs.length === 1), 'never a removal');
  assert.ok(ctx.log.records.some((r) => r.msg === 'source readable again'));
  await log.stop();
});
