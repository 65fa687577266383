/**
 * The pg:// monitor against the machine's PostgreSQL, in a database of its own. The last test
 * stops and restarts the server for a short window (the only test that does).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { inCI, waitFor } from '../../helpers/wait.js';
import type { MemoryLogger } from '../../../src/log/logger.js';
import type { MonitorContext } from '../../../src/monitors/types.js';
import { createPgMonitor } from '../../../plugins/pg/monitor.js';
import { runPgSetup } from '../../../plugins/pg/setup.js';
import { createTestDb, type TestDb } from './db.js';
import { EventLog, byName, names, testContext } from './monitor-events.js';

let db: TestDb | undefined;
let skipReason = '';
const logs: EventLog[] = [];

before(async () => {
  const r = await createTestDb();
  if (typeof r === 'string') skipReason = r;
  else db = r;
});

after(async () => {
  await Promise.allSettled(logs.map((l) => l.stop()));
  await db?.drop();
});

function need(t: TestContext): TestDb | undefined {
  if (db === undefined) t.skip(skipReason);
  return db;
}

function watch(arg: string, ctx: MonitorContext): EventLog {
  const log = new EventLog(createPgMonitor(arg, ctx));
  logs.push(log);
  return log;
}

/** Resolves once the monitor has failed `n` more reads in a row after its first error event. */
function retries(log: MemoryLogger, n: number, since: number): Promise<unknown> {
  return waitFor(() => log.records.slice(since).filter((r) => r.msg === 'read failed again').length >= n, { what: `${n} more failed reads` });
}

test('rows become vassals; a greater ts reloads, a smaller one does not; a deleted row goes', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_basic (id serial, name text, config text, ts double precision)');
  const ctx = testContext({ freq: 0.1 });
  const arg = `pg://${d.conninfo};SELECT name,config,ts FROM v_basic ORDER BY id`;
  const log = watch(arg, ctx);
  await log.snapshot((s) => s.length === 0, { what: 'the first (empty) snapshot' });

  await d.query(`INSERT INTO v_basic (name, config, ts) VALUES ('app.ini', '[vassal]\ncommand = true', 100)`);
  const added = await log.snapshot((s) => byName(s, 'app.ini') !== undefined);
  assert.deepEqual(byName(added.specs, 'app.ini'), {
    name: 'app.ini',
    source: arg,
    config: { text: '[vassal]\ncommand = true', format: 'ini' },
    revision: '100',
    pushed: true,
  });

  await d.query(`UPDATE v_basic SET ts = 200, config = 'v2' WHERE name = 'app.ini'`);
  const reloaded = await log.snapshot((s) => byName(s, 'app.ini')?.revision === '200');
  assert.equal(byName(reloaded.specs, 'app.ini')?.config.text, 'v2');

  await d.query(`UPDATE v_basic SET ts = 150, config = 'v3' WHERE name = 'app.ini'`);
  const mark = log.mark();
  await log.reads(3, mark);
  for (const s of log.snapshotsSince(mark)) {
    assert.deepEqual([byName(s.specs, 'app.ini')?.revision, byName(s.specs, 'app.ini')?.config.text], ['200', 'v2'], 'a smaller ts must not reload');
  }

  // One connection, kept open across reads.
  await waitFor(async () => {
    const r = await d.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'emperor'`, [d.name]);
    return r.rows[0].n === 1;
  }, { what: 'exactly one monitor connection' });

  await d.query(`DELETE FROM v_basic WHERE name = 'app.ini'`);
  await log.snapshot((s) => byName(s, 'app.ini') === undefined, { mark: log.mark() });
  assert.deepEqual(log.errorsSince(0), []);
  await log.stop();
});

test('the default query reads table vassals, ts a timestamp', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE vassals (name text, config text, ts timestamptz)');
  await d.query(`INSERT INTO vassals VALUES ('web.yaml', 'vassal: {command: "true"}', '2024-01-02 03:04:05.5+00')`);
  const log = watch(`pg://${d.conninfo}`, testContext({ freq: 0.1 }));
  const s = await log.snapshot((specs) => specs.length === 1);
  assert.equal(s.specs[0]?.revision, String(Date.UTC(2024, 0, 2, 3, 4, 5, 500) / 1000));
  assert.equal(s.specs[0]?.config.format, 'yaml');
  await log.stop();
});

test('NOTIFY: with the pg-setup trigger a change is seen at once, not at the next poll', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_notify (name text, config text, ts bigint)');
  await runPgSetup(d.conninfo, { table: 'v_notify', channel: 'fleet_n' });
  // freq 30: only a notification can explain a reaction within the test's deadlines.
  const log = watch(`pg://${d.conninfo} channel=fleet_n;SELECT name,config,ts FROM v_notify`, testContext({ freq: 30 }));
  await log.snapshot((s) => s.length === 0, { what: 'the first snapshot' });

  const t0 = performance.now();
  await d.query(`INSERT INTO v_notify VALUES ('fast.ini', 'x', 1)`);
  const seen = await log.snapshot((s) => byName(s, 'fast.ini') !== undefined, { timeoutMs: 5_000 });
  const latency = seen.at - t0;
  t.diagnostic(`insert to snapshot: ${latency.toFixed(1)} ms`);
  assert.ok(latency < 2_000, `reaction took ${latency} ms`);

  // A burst of separate commits: coalesced reads, nothing lost.
  const mark = log.mark();
  for (let i = 0; i < 20; i += 1) await d.query(`INSERT INTO v_notify VALUES ('burst${i}.ini', 'x', 1)`);
  await log.snapshot((s) => s.length === 21, { mark, timeoutMs: 5_000 });
  t.diagnostic(`20 commits -> ${log.snapshotsSince(mark).length} reads`);

  const t1 = performance.now();
  await d.query('TRUNCATE v_notify');
  const emptied = await log.snapshot((s) => s.length === 0, { mark: log.mark(), timeoutMs: 5_000 });
  assert.ok(emptied.at - t1 < 2_000);
  await log.stop();
});

test('runPgSetup is idempotent and takes the channel from the connection', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_setup (name text, config text, ts bigint)');
  const triggers = async (): Promise<string[]> =>
    (await d.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'v_setup'::regclass AND NOT tgisinternal ORDER BY 1`)).rows.map((r) => r.tgname as string);
  await runPgSetup(d.conninfo, { table: 'v_setup' });
  await runPgSetup(d.conninfo, { table: 'v_setup' });
  assert.deepEqual(await triggers(), ['emperor_notify_emperor_vassals']);
  await runPgSetup(`pg://${d.conninfo} channel=zz;SELECT name,config,ts FROM v_setup`, { table: 'v_setup' });
  await runPgSetup(`pg://${d.url}?channel=zz`, { table: 'v_setup' });
  assert.deepEqual(await triggers(), ['emperor_notify_emperor_vassals', 'emperor_notify_zz']);

  const listener = new pg.Client({ connectionString: d.url });
  await listener.connect();
  try {
    const got: string[] = [];
    listener.on('notification', (n) => got.push(`${n.channel}:${n.payload}`));
    await listener.query('LISTEN zz');
    await d.query(`INSERT INTO v_setup VALUES ('a.ini', 'x', 1), ('b.ini', 'x', 1)`);
    await d.query(`DELETE FROM v_setup`);
    await waitFor(() => got.length >= 2, { what: 'two notifications' });
    assert.deepEqual(got, ['zz:INSERT', 'zz:DELETE'], 'one notification per statement');
  } finally {
    await listener.end();
  }
  await assert.rejects(runPgSetup(d.conninfo, { table: 'no_such_table' }), /pg-setup: cannot install the trigger on no_such_table .*does not exist/);
});

test('a query error is reported, yields no snapshot, and the monitor recovers', async (t) => {
  const d = need(t);
  if (!d) return;
  const ctx = testContext({ freq: 0.1 });
  const log = watch(`pg://${d.conninfo};SELECT name,config,ts FROM v_later`, ctx);
  const err = await log.error(/relation "v_later" does not exist/);
  assert.equal((err.error as { code?: string }).code, 'EMP_ERR_MONITOR');
  assert.equal(err.name, undefined);
  await retries(ctx.log, 2, 0);
  assert.equal(log.snapshotsSince(0).length, 0, 'a failed read is never a snapshot');
  assert.equal(log.errorsSince(0).length, 1, 'the same failure is reported once');

  await d.query('CREATE TABLE v_later (name text, config text, ts bigint)');
  await d.query(`INSERT INTO v_later VALUES ('late.ini', 'x', 7)`);
  const s = await log.snapshot((specs) => byName(specs, 'late.ini') !== undefined);
  assert.equal(byName(s.specs, 'late.ini')?.revision, '7');
  await log.stop();

  const two = watch(`pg://${d.conninfo};SELECT name,config FROM v_later`, testContext({ freq: 0.1 }));
  await two.error(/returns 2 columns; expected 3 to 6: name, config, ts\[, uid, gid\[, socket\]\]/);
  assert.equal(two.snapshotsSince(0).length, 0);
  await two.stop();
});

test('a statement timeout is a failed read: reported, no snapshot, then recovery', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_slow (name text, config text, ts bigint)');
  await d.query('CREATE TABLE v_slow_ctl (slow boolean)');
  await d.query(`INSERT INTO v_slow VALUES ('slow.ini', 'x', 1)`);
  await d.query('INSERT INTO v_slow_ctl VALUES (false)');
  const ctx = testContext({ freq: 0.1 });
  const query = 'SELECT v.name, v.config, v.ts FROM v_slow v, (SELECT pg_sleep(CASE WHEN slow THEN 5 ELSE 0 END) FROM v_slow_ctl) s';
  const log = watch(`pg://${d.conninfo} statement_timeout=300;${query}`, ctx);
  await log.snapshot((s) => s.length === 1);

  await d.query('UPDATE v_slow_ctl SET slow = true');
  const mark = log.mark();
  const since = ctx.log.records.length;
  await log.error(/canceling statement due to statement timeout/, { mark });
  // The first failure may land after a read already under way: count snapshots from the error on.
  const errorAt = log.errorsSince(mark)[0]?.at ?? 0;
  await retries(ctx.log, 1, since);
  assert.deepEqual(log.snapshotsSince(mark).filter((s) => s.at > errorAt), [], 'no snapshot while reads time out');

  await d.query('UPDATE v_slow_ctl SET slow = false');
  const back = await log.snapshot((s) => s.length === 1, { mark: log.mark() });
  assert.equal(back.specs[0]?.name, 'slow.ini');
  assert.ok(ctx.log.records.some((r) => r.msg === 'source readable again'));
  await log.stop();
});

test('bad rows are reported with their name and reason, once, and skipped', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_bad (id serial, name text, config text, ts text)');
  await d.query(`INSERT INTO v_bad (name, config, ts) VALUES
    ('good.ini', 'x', '1'), (NULL, 'x', '1'), ('noconf.ini', NULL, '1'), ('nots.ini', 'x', NULL),
    ('textts.ini', 'x', 'yesterday'), ('noext', 'x', '1'), ('a/b.ini', 'x', '1'), ('../up.ini', 'x', '1'),
    ('good.ini', 'second', '2'), ('badconf.ini', 'this is [not ini', '1')`);
  const log = watch(`pg://${d.conninfo};SELECT name,config,ts FROM v_bad ORDER BY id`, testContext({ freq: 0.1 }));
  const s = await log.snapshot(() => true);
  assert.deepEqual(names(s.specs), ['badconf.ini', 'good.ini'], 'a bad config is announced; the core reports it');
  assert.equal(byName(s.specs, 'good.ini')?.config.text, 'x', 'the first row wins');
  const errors = log.errorsSince(0);
  assert.deepEqual(errors.map((e) => e.name), [undefined, 'noconf.ini', 'nots.ini', 'textts.ini', 'noext', 'a/b.ini', '../up.ini', 'good.ini']);
  assert.match(errors[0]?.error.message ?? '', /^row 2: name is NULL/);
  assert.match(errors[3]?.error.message ?? '', /"yesterday"/);
  assert.match(errors[7]?.error.message ?? '', /duplicate name "good.ini"/);

  const mark = log.mark();
  await log.reads(3, mark);
  assert.deepEqual(log.errorsSince(mark), [], 'unchanged bad rows are not reported again');
  await d.query(`UPDATE v_bad SET config = 'changed' WHERE name = 'textts.ini'`);
  const again = await log.error(/textts\.ini/, { mark });
  assert.equal(again.name, 'textts.ini');
  await log.reads(2, log.mark());
  assert.equal(log.errorsSince(mark).length, 1);
  await log.stop();
});

test('uid, gid and socket columns; tyrant mode requires uid and gid above 0', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_tyrant (id serial, name text, config text, ts int, uid int, gid bigint, socket text)');
  await d.query(`INSERT INTO v_tyrant (name, config, ts, uid, gid, socket) VALUES
    ('ok.ini', 'x', 1, 1000, 1001, '127.0.0.1:4040'), ('nosock.ini', 'x', 1, 1000, 1000, ''),
    ('nullsock.ini', 'x', 1, 1000, 1000, NULL), ('none.ini', 'x', 1, NULL, NULL, NULL), ('root.ini', 'x', 1, 0, 0, NULL)`);
  const query = 'SELECT name,config,ts,uid,gid,socket FROM v_tyrant ORDER BY id';
  const log = watch(`pg://${d.conninfo};${query}`, testContext({ freq: 0.1, tyrant: true }));
  const s = await log.snapshot(() => true);
  assert.deepEqual(s.specs.map((x) => [x.name, x.uid, x.gid, x.socket]), [
    ['ok.ini', 1000, 1001, '127.0.0.1:4040'],
    ['nosock.ini', 1000, 1000, undefined],
    ['nullsock.ini', 1000, 1000, undefined],
  ]);
  const errors = log.errorsSince(0);
  assert.deepEqual(errors.map((e) => e.name), ['none.ini', 'root.ini']);
  assert.match(errors[0]?.error.message ?? '', /missing uid and gid \(required in tyrant mode\)/);
  await log.stop();

  // Outside tyrant mode the same rows all run, with the uid/gid they give.
  const plain = watch(`pg://${d.conninfo};${query}`, testContext({ freq: 0.1 }));
  const p = await plain.snapshot(() => true);
  assert.deepEqual(names(p.specs), ['none.ini', 'nosock.ini', 'nullsock.ini', 'ok.ini', 'root.ini']);
  assert.equal(byName(p.specs, 'none.ini')?.uid, undefined);
  await plain.stop();
});

test('%h: monitors on two nodes each see only their rows from one table', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_nodes (name text, config text, ts bigint, node text)');
  await d.query(`INSERT INTO v_nodes VALUES ('a1.ini', 'x', 1, 'alpha'), ('a2.ini', 'x', 1, 'alpha'),
    ('b1.ini', 'x', 1, 'o''brien; --'), ('c1.ini', 'x', 1, 'gamma')`);
  const arg = `pg://${d.conninfo};SELECT name,config,ts FROM v_nodes WHERE node = %h ORDER BY name`;
  const alpha = watch(arg, testContext({ freq: 0.1, nodeName: 'alpha' }));
  const beta = watch(arg, testContext({ freq: 0.1, nodeName: "o'brien; --" }));
  assert.deepEqual(names((await alpha.snapshot(() => true)).specs), ['a1.ini', 'a2.ini']);
  assert.deepEqual(names((await beta.snapshot(() => true)).specs), ['b1.ini']);
  assert.equal(alpha.monitor.id, arg, 'the id shows the query as written');
  await alpha.stop();
  await beta.stop();
});

test('conninfo and URL forms connect; passwords are masked in the id and the specs', async (t) => {
  const d = need(t);
  if (!d) return;
  await d.query('CREATE TABLE v_forms (name text, config text, ts bigint)');
  await d.query(`INSERT INTO v_forms VALUES ('f.ini', 'x', 3)`);
  const query = 'SELECT name,config,ts FROM v_forms';
  const url = d.url.replace(`${d.user}@`, `${d.user}:s3cret@`);
  const forms = [
    [`pg://${d.conninfo} password='s3 cr;et' application_name=emperor;${query}`, `pg://${d.conninfo} password=*** application_name=emperor;${query}`],
    [`pg://${url}?channel=forms&statement_timeout=2s;${query}`, `pg://${d.url.replace(`${d.user}@`, `${d.user}:***@`)}?channel=forms&statement_timeout=2s;${query}`],
  ] as const;
  for (const [arg, id] of forms) {
    const log = watch(arg, testContext({ freq: 0.1 }));
    assert.equal(log.monitor.id, id);
    const s = await log.snapshot((specs) => specs.length === 1);
    assert.equal(s.specs[0]?.source, id);
    assert.ok(!JSON.stringify(log.stamped).includes('s3'), 'no event carries the password');
    await log.stop();
  }
});

/** The cluster's pg_ctlcluster command line, or undefined when this machine has none. */
async function clusterControl(): Promise<((action: 'stop' | 'start') => Promise<void>) | undefined> {
  let versions: string[];
  try {
    versions = await readdir('/etc/postgresql');
  } catch {
    return undefined;
  }
  const version = versions[0];
  if (version === undefined) return undefined;
  const run = promisify(execFile);
  return async (action) => {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action], { timeout: 60_000 });
  };
}

test('outage: PostgreSQL stopped and started again; no snapshot meanwhile, then recovery', async (t) => {
  const d = need(t);
  if (!d) return;
  const control = await clusterControl();
  if (control === undefined) {
    if (inCI) throw new Error('CI is set and pg_ctlcluster / /etc/postgresql is missing');
    t.skip('no pg_ctlcluster cluster on this machine');
    return;
  }
  await d.query('CREATE TABLE v_outage (name text, config text, ts bigint)');
  await d.query(`INSERT INTO v_outage VALUES ('keep.ini', 'x', 5)`);
  const ctx = testContext({ freq: 0.2 });
  const log = watch(`pg://${d.conninfo};SELECT name,config,ts FROM v_outage`, ctx);
  await log.snapshot((s) => s.length === 1);

  const mark = log.mark();
  let stopped = false;
  let restarted = false;
  const t0 = performance.now();
  try {
    await control('stop');
    stopped = true;
    // The lost connection nudges a read at once: the outage is reported without waiting a poll.
    await log.error(/cannot read the vassals/, { mark, timeoutMs: 10_000 });
    t.diagnostic(`outage reported ${(performance.now() - t0).toFixed(0)} ms after the stop began`);
    await control('start');
    restarted = true;
    t.diagnostic(`server down for ${(performance.now() - t0).toFixed(0)} ms`);
  } finally {
    if (stopped && !restarted) await control('start');
  }
  const firstError = log.errorsSince(mark)[0];
  const back = await log.snapshot((s) => s.length === 1, { mark, timeoutMs: 20_000 });
  assert.deepEqual(back.specs.map((s) => [s.name, s.revision]), [['keep.ini', '5']]);
  const during = log.snapshotsSince(mark).filter((s) => firstError !== undefined && s.at > firstError.at && s.at < back.at);
  assert.deepEqual(during, [], 'no snapshot during the outage');
  assert.ok(log.snapshotsSince(mark).every((s) => s.specs.length === 1), 'never a removal');
  assert.ok(ctx.log.records.some((r) => r.msg === 'source readable again'));
  await log.stop();
});
