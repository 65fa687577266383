/**
 * The zmq:// monitor with real zeromq sockets: a free TCP port or an ipc:// path in a temp dir
 * per test, publishers from this package's publishZmq and from a raw zeromq PUSH socket.
 */
import assert from 'node:assert/strict';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Pull, Push } from 'zeromq';
import { isEmperorError } from '../../../src/errors.js';
import type { MemoryLogger } from '../../../src/log/logger.js';
import { StateStore } from '../../../src/monitors/state-store.js';
import type { MonitorContext, MonitorEvent } from '../../../src/monitors/types.js';
import { createZmqMonitor } from '../../../plugins/zmq/monitor.js';
import { publishZmq } from '../../../plugins/zmq/publish.js';
import { eventually, freePort, tempDir } from '../../helpers/wait.js';
import { Collector, monitorContext } from '../amqp/collect.js';

interface Started {
  c: Collector;
  ctx: MonitorContext & { log: MemoryLogger };
  stateDir: string;
  endpoint: string;
  arg: string;
}

async function start(t: TestContext, over: Partial<MonitorContext> = {}, reuse?: { stateDir: string; arg: string }): Promise<Started> {
  let stateDir = reuse?.stateDir;
  const tmp = stateDir === undefined ? await tempDir('emperor-zmq-state-') : undefined;
  stateDir ??= tmp!.dir;
  const arg = reuse?.arg ?? `zmq://tcp://127.0.0.1:${await freePort()}`;
  const ctx = monitorContext(stateDir, over);
  const c = new Collector(createZmqMonitor(arg, ctx));
  // Stopping waits for a state write still under way; the directory goes after that.
  t.after(async () => {
    await c.stop();
    await tmp?.cleanup();
  });
  await ctx.log.waitFor((r) => r.msg === 'zmq bound', 20_000);
  return { c, ctx, stateDir, endpoint: arg.slice('zmq://'.length), arg };
}

const upserts = (events: MonitorEvent[]): string[] => events.flatMap((e) => (e.type === 'upsert' ? [e.spec.name] : []));
const removes = (events: MonitorEvent[]): string[] => events.flatMap((e) => (e.type === 'remove' ? [e.name] : []));
const errors = (events: MonitorEvent[]): Error[] => events.flatMap((e) => (e.type === 'error' ? [e.error] : []));

test('touch with a config adds, every touch reloads, destroy removes', async (t) => {
  const { c, arg, stateDir } = await start(t);
  await publishZmq(arg, ['touch', 'foo.ini', '[vassal]\ncommand = node foo.js\n']);
  const first = await c.upsert('foo.ini');
  assert.deepEqual(first.config, { text: '[vassal]\ncommand = node foo.js\n', format: 'ini' });
  assert.equal(first.pushed, true);
  assert.equal(first.source, arg);
  assert.equal(first.uid, undefined);

  await publishZmq(arg, ['touch', 'foo.ini', '[vassal]\ncommand = node foo.js\n']);
  const second = await c.upsert('foo.ini', (s) => s.revision !== first.revision);
  await eventually(async () => (await new StateStore(stateDir, arg).load()).records.map((r) => r.spec), [second], 'the state store');

  await publishZmq(arg, ['destroy', 'foo.ini']);
  await c.removal('foo.ini');
  await eventually(async () => (await new StateStore(stateDir, arg).load()).records, [], 'destroy deletes the record');
});

test('uid, gid and socket parts fill the spec; empty parts count as absent', async (t) => {
  const { c, arg } = await start(t);
  await publishZmq(arg, ['touch', 'ids.json', '{"vassal":{}}', '1000', '1001', '127.0.0.1:4142']);
  const spec = await c.upsert('ids.json');
  assert.deepEqual([spec.uid, spec.gid, spec.socket, spec.config.format], [1000, 1001, '127.0.0.1:4142', 'json']);
  await publishZmq(arg, ['touch', 'partial.ini', '[vassal]\n', '', '7']);
  const partial = await c.upsert('partial.ini');
  assert.deepEqual([partial.uid, partial.gid, partial.socket], [undefined, 7, undefined]);
});

test('a name under an extra extension is accepted and its format read from the text', async (t) => {
  const { c, arg } = await start(t, { extraExtensions: ['.conf'] });
  await publishZmq(arg, ['touch', 'svc.conf', 'vassal:\n  command: x\n']);
  assert.equal((await c.upsert('svc.conf')).config.format, 'yaml');
  await publishZmq(arg, ['touch', 'old.js', '{"vassal":{}}']);
  assert.equal((await c.upsert('old.js')).config.format, 'json');
});

test('touch without a config reads the file from the emperor\'s directory; a missing one is an error', async (t) => {
  const { dir, cleanup } = await tempDir('emperor-zmq-cwd-');
  t.after(cleanup);
  await writeFile(join(dir, 'onfile.yaml'), 'vassal:\n  command: x\n');
  await mkdir(join(dir, 'adir.ini'));
  const home = process.cwd();
  process.chdir(dir);
  let started: Started;
  try {
    started = await start(t);
  } finally {
    process.chdir(home);
  }
  const { c, arg } = started;
  await publishZmq(arg, ['touch', 'onfile.yaml']);
  const spec = await c.upsert('onfile.yaml');
  assert.deepEqual(spec.config, { text: 'vassal:\n  command: x\n', format: 'yaml', path: join(dir, 'onfile.yaml') });
  assert.equal(spec.pushed, false);

  await publishZmq(arg, ['touch', 'ghost.ini']);
  const missing = await c.error(/does not exist in the emperor's directory/);
  assert.equal(c.events.find((e) => e.type === 'error' && e.error === missing && e.name === 'ghost.ini')?.type, 'error');
  await publishZmq(arg, ['touch', 'adir.ini']);
  await c.error(/is a directory/);
  assert.deepEqual(removes(c.events), []);
});

test('an ipc:// endpoint works too', async (t) => {
  const { dir, cleanup } = await tempDir('emperor-zmq-ipc-');
  const arg = `zmq://ipc://${join(dir, 'emperor.sock')}`;
  const { c } = await start(t, {}, { stateDir: dir, arg });
  t.after(cleanup); // after the monitor's own stop, registered by start
  await publishZmq(arg, ['touch', 'ipc.ini', '[vassal]\n']);
  await c.upsert('ipc.ini');
});

test('the fleet survives a monitor restart', async (t) => {
  const first = await start(t);
  // One connection: zmq keeps the order of one publisher's messages, not across publishers.
  const push = new Push({ immediate: true, sendTimeout: 10_000, linger: 10_000 });
  t.after(() => push.close());
  push.connect(first.endpoint);
  await push.send(['touch', 'a.ini', '[vassal]\n; a\n', '1000', '1000']);
  await push.send(['touch', 'b.ini', '[vassal]\n; b\n']);
  await push.send(['touch', 'c.ini', '[vassal]\n; c\n']);
  await push.send(['destroy', 'b.ini']);
  await first.c.removal('b.ini');
  const announced = first.c.events.flatMap((e) => (e.type === 'upsert' && e.spec.name !== 'b.ini' ? [e.spec] : []));
  await first.c.stop();

  const second = await start(t, {}, { stateDir: first.stateDir, arg: first.arg });
  const restored = second.c.events.flatMap((e) => (e.type === 'upsert' ? [e.spec] : []));
  assert.deepEqual(restored.sort((x, y) => x.name.localeCompare(y.name)), announced);
  await publishZmq(first.arg, ['touch', 'd.ini', '[vassal]\n']);
  await second.c.upsert('d.ini');
});

test('bad input is reported with its reason and changes nothing', async (t) => {
  const { c, arg, stateDir, endpoint, ctx } = await start(t, { maxConfigBytes: 64 * 1024 });
  const bad: Array<[Array<string | Buffer>, RegExp]> = [
    [['restart', 'a.ini', '[vassal]\n'], /unknown command "restart": expected touch or destroy/],
    [['touch'], /at least 2 parts \(command, name\), got 1/],
    [['touch', 'a.ini', '[vassal]\n', '1', '1', ':1', 'extra'], /at most 6 parts/],
    [['touch', 'latin1.ini', Buffer.from([0x5b, 0x76, 0xe9, 0x5d])], /not valid UTF-8/],
    [['touch', Buffer.from([0xff, 0x2e, 0x69, 0x6e, 0x69]), '[vassal]\n'], /name part is not valid UTF-8/],
    [['touch', 'a/b.ini', '[vassal]\n'], /contains "\/"/],
    [['touch', '../b.ini', '[vassal]\n'], /contains "\.\."/],
    [['touch', 'b.txt', '[vassal]\n'], /has no valid config extension/],
    [['destroy', '../../etc/passwd.ini'], /contains "\.\."/],
    [['touch', 'uid.ini', '[vassal]\n', 'root', '0'], /uid part is "root": expected a decimal number/],
    [['touch', 'big.ini', Buffer.alloc(64 * 1024 + 1, 0x61)], /config is 65537 bytes, above the 65536-byte limit/],
  ];
  const before = c.events.length;
  const push = new Push({ immediate: true, sendTimeout: 10_000, linger: 10_000 });
  t.after(() => push.close());
  push.connect(endpoint);
  for (const [parts] of bad) await push.send(parts);
  await push.send(['touch', 'sentinel.ini', '[vassal]\n']);
  await c.upsert('sentinel.ini');

  const seen = c.since(before);
  const reported = errors(seen);
  assert.equal(reported.length, bad.length, reported.map((e) => e.message).join('\n'));
  bad.forEach(([, pattern], i) => assert.match(reported[i]!.message, pattern));
  for (const e of reported) assert.ok(isEmperorError(e), `${e.message} carries a code`);
  assert.deepEqual(upserts(seen), ['sentinel.ini']);
  assert.deepEqual(removes(seen), []);

  // A 100 MB part: libzmq refuses it before buffering (maxMessageSize) by dropping the
  // publisher; the monitor carries on and the drop is logged.
  const huge = Buffer.alloc(100 * 1024 * 1024, 0x61);
  const bulky = new Push({ immediate: true, sendTimeout: 10_000, linger: 0 });
  bulky.connect(endpoint);
  await bulky.send(['touch', 'huge.ini', huge]);
  await ctx.log.waitFor((r) => r.level === 'debug' && /disconnected/.test(r.msg));
  bulky.close();
  await publishZmq(arg, ['touch', 'after.ini', '[vassal]\n']);
  await c.upsert('after.ini');
  assert.deepEqual(upserts(c.since(before)), ['sentinel.ini', 'after.ini']);
  await eventually(async () => (await new StateStore(stateDir, arg).load()).records.map((r) => r.spec.name).sort(), ['after.ini', 'sentinel.ini'], 'the state store');
});

test('tyrant mode: a file runs as its owner; a carried config needs uid and gid parts', async (t) => {
  const { dir, cleanup } = await tempDir('emperor-zmq-cwd-');
  t.after(cleanup);
  await writeFile(join(dir, 'owned.ini'), '[vassal]\n');
  await chown(join(dir, 'owned.ini'), 4242, 4343);
  const home = process.cwd();
  process.chdir(dir);
  let started: Started;
  try {
    started = await start(t, { tyrant: true });
  } finally {
    process.chdir(home);
  }
  const { c, arg } = started;
  await publishZmq(arg, ['touch', 'owned.ini', '', '1', '1']);
  const owned = await c.upsert('owned.ini');
  assert.deepEqual([owned.uid, owned.gid], [4242, 4343]);
  await publishZmq(arg, ['touch', 'carried.ini', '[vassal]\n']);
  assert.ok(isEmperorError(await c.error(/tyrant mode needs the uid and gid parts/), 'EMP_ERR_PERMISSION'));
});

test('a flood of thousands of messages is handled completely and in order', async (t) => {
  // Read by hand, as the emperor does: the next message is taken only after this one is handled.
  const total = 5000;
  const ac = new AbortController();
  t.after(() => ac.abort());
  const { dir: stateDir, cleanup } = await tempDir('emperor-zmq-state-');
  t.after(cleanup);
  const port = await freePort();
  const ctx = monitorContext(stateDir);
  const it = createZmqMonitor(`zmq://tcp://127.0.0.1:${port}`, ctx).events(ac.signal)[Symbol.asyncIterator]();
  const firstEvent = it.next();
  await ctx.log.waitFor((r) => r.msg === 'zmq bound');

  const push = new Push({ immediate: true, sendTimeout: 30_000, linger: 30_000 });
  t.after(() => push.close());
  push.connect(`tcp://127.0.0.1:${port}`);
  const sending = (async () => {
    for (let i = 0; i < total; i++) await push.send(['touch', `flood-${i % 10}.ini`, `[vassal]\n; seq=${i}\n`]);
  })();

  const seqs: number[] = [];
  let next = await firstEvent;
  const heapBefore = process.memoryUsage().heapUsed;
  while (!next.done) {
    const e = next.value;
    assert.equal(e.type, 'upsert', e.type === 'error' ? e.error.message : undefined);
    if (e.type === 'upsert') seqs.push(Number(/seq=(\d+)/.exec(e.spec.config.text)?.[1]));
    if (seqs.length === total) break;
    next = await it.next();
  }
  await sending;
  assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i));
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024, 'memory stays bounded');
  const { records } = await new StateStore(stateDir, `zmq://tcp://127.0.0.1:${port}`).load();
  assert.equal(records.length, 10);
  await it.return?.(undefined);
});

test('an endpoint already taken is an error, then bound once it is free', async (t) => {
  const port = await freePort();
  const squatter = new Pull();
  await squatter.bind(`tcp://127.0.0.1:${port}`);
  const { dir, cleanup } = await tempDir('emperor-zmq-state-');
  t.after(cleanup);
  const ctx = monitorContext(dir);
  const c = new Collector(createZmqMonitor(`zmq://tcp://127.0.0.1:${port}`, ctx, { minDelayMs: 50, maxDelayMs: 200 }));
  t.after(() => c.stop());
  const err = await c.error(/cannot bind tcp:\/\/127\.0\.0\.1:\d+: .*retrying/);
  assert.ok(isEmperorError(err, 'EMP_ERR_MONITOR'));
  squatter.close();
  await ctx.log.waitFor((r) => r.msg === 'zmq bound');
  await publishZmq(`tcp://127.0.0.1:${port}`, ['touch', 'late.ini', '[vassal]\n']);
  await c.upsert('late.ini');
});

test('publishing with no emperor listening fails with a clear error', async () => {
  const port = await freePort();
  await assert.rejects(
    publishZmq(`zmq://tcp://127.0.0.1:${port}`, ['touch', 'a.ini', 'x'], { timeoutMs: 300 }),
    (err) => isEmperorError(err, 'EMP_ERR_MONITOR') && /no emperor accepted the message within 300 ms/.test(err.message),
  );
});
