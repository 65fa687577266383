/**
 * The amqp:// monitor against the machine's RabbitMQ (127.0.0.1:5672, guest/guest). Every test
 * uses its own exchange (deleted afterwards) and its own exclusive queue, so runs in parallel do
 * not see each other's messages.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import amqp from 'amqplib';
import { isEmperorError } from '../../../src/errors.js';
import { StateStore } from '../../../src/monitors/state-store.js';
import type { MonitorContext, MonitorEvent } from '../../../src/monitors/types.js';
import { createAmqpMonitor } from '../../../plugins/amqp/monitor.js';
import { publishAmqp } from '../../../plugins/amqp/publish.js';
import { canConnect, eventually, freePort, inCI, tempDir, waitFor } from '../../helpers/wait.js';
import { Collector, monitorContext } from './collect.js';

const BROKER = 'amqp://127.0.0.1:5672';
const brokerUp = await canConnect(5672);
const run = `${process.pid}-${Date.now().toString(36)}`;
let seq = 0;

function needBroker(t: TestContext): boolean {
  if (brokerUp) return true;
  if (inCI) throw new Error('RabbitMQ is not reachable on 127.0.0.1:5672, and CI=true requires it');
  t.skip('RabbitMQ is not reachable on 127.0.0.1:5672');
  return false;
}

/** A fresh exchange name, deleted when the test ends. */
function exchangeFor(t: TestContext): string {
  const name = `emperor-test-${run}-${++seq}`;
  t.after(() => withChannel((ch) => ch.deleteExchange(name)).catch(() => undefined));
  return name;
}

async function withChannel<T>(fn: (ch: amqp.Channel) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(BROKER);
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    return await fn(ch);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

const rabbitmqctl = async (...args: string[]): Promise<string> =>
  (await promisify(execFile)('rabbitmqctl', args, { timeout: 120_000 })).stdout;

interface Started {
  c: Collector;
  ctx: MonitorContext & { log: import('../../../src/log/logger.js').MemoryLogger };
  stateDir: string;
}

/** Starts a monitor and waits until its queue is bound, so nothing published after is missed. */
async function start(t: TestContext, url: string, over: Partial<MonitorContext> = {}, stateDir?: string): Promise<Started> {
  const tmp = stateDir === undefined ? await tempDir('emperor-amqp-state-') : undefined;
  const dir = stateDir ?? tmp!.dir;
  const ctx = monitorContext(dir, over);
  const c = new Collector(createAmqpMonitor(url, ctx, { fetchTimeoutMs: 2_000 }));
  // Stopping waits for a state write still under way; the directory goes after that.
  t.after(async () => {
    await c.stop();
    await tmp?.cleanup();
  });
  await ctx.log.waitFor((r) => r.msg === 'amqp subscribed', 20_000);
  return { c, ctx, stateDir: dir };
}

const upserts = (events: MonitorEvent[]): string[] => events.flatMap((e) => (e.type === 'upsert' ? [e.spec.name] : []));
const removes = (events: MonitorEvent[]): string[] => events.flatMap((e) => (e.type === 'remove' ? [e.name] : []));
const errors = (events: MonitorEvent[]): Error[] => events.flatMap((e) => (e.type === 'error' ? [e.error] : []));

test('routing key + config text adds, every re-publish reloads, an empty body removes', async (t) => {
  if (!needBroker(t)) return;
  const exchange = exchangeFor(t);
  const url = `${BROKER}?exchange=${exchange}`;
  const { c, stateDir } = await start(t, url);

  await publishAmqp(url, { name: 'app.ini', body: '[vassal]\ncommand = node a.js\n' }, { uid: 1000, gid: 1001, socket: '127.0.0.1:3031' });
  const first = await c.upsert('app.ini');
  assert.deepEqual(first.config, { text: '[vassal]\ncommand = node a.js\n', format: 'ini' });
  assert.equal(first.source, url);
  assert.equal(first.pushed, true);
  assert.equal(first.uid, 1000);
  assert.equal(first.gid, 1001);
  assert.equal(first.socket, '127.0.0.1:3031');

  await publishAmqp(url, { name: 'app.ini', body: '[vassal]\ncommand = node a.js\n' });
  const second = await c.upsert('app.ini', (s) => s.revision !== first.revision);
  assert.equal(second.config.text, first.config.text, 'same text, yet a new revision: re-publishing reloads');
  assert.equal(second.uid, undefined);

  const store = new StateStore(stateDir, url);
  await eventually(async () => (await store.load()).records.map((r) => r.spec), [second], 'the state store');

  await publishAmqp(url, { name: 'app.ini', body: '' });
  await c.removal('app.ini');
  await eventually(async () => (await store.load()).records, [], 'a remove deletes the record');

  // The exchange the monitor created is a non-durable fanout, as uWSGI and pika declare it.
  await withChannel((ch) => ch.assertExchange(exchange, 'fanout', { durable: false }));
});

test('a config path adds, re-publishing reloads, a path that is gone removes', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const { c, stateDir } = await start(t, url);
  const { dir, cleanup } = await tempDir('emperor-amqp-files-');
  t.after(cleanup);
  const file = join(dir, 'web.yaml');
  await writeFile(file, 'vassal:\n  command: node web.js\n');

  await publishAmqp(url, { body: `${file}\n` });
  const added = await c.upsert('web.yaml');
  assert.deepEqual(added.config, { text: 'vassal:\n  command: node web.js\n', format: 'yaml', path: file });
  assert.equal(added.pushed, false);

  await writeFile(file, 'vassal:\n  command: node web2.js\n');
  await publishAmqp(url, { body: file });
  const reloaded = await c.upsert('web.yaml', (s) => s.revision !== added.revision);
  assert.equal(reloaded.config.text, 'vassal:\n  command: node web2.js\n');

  await rm(file);
  await publishAmqp(url, { body: file });
  await c.removal('web.yaml');
  await eventually(async () => (await new StateStore(stateDir, url).load()).records, [], 'the state store');
});

test('a config URL is fetched; a non-200 answer removes; no answer is only an error', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const { c } = await start(t, url);
  const pages = new Map<string, [number, string]>([['/confs/trac.ini', [200, '[vassal]\ncommand = trac\n']]]);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/slow.ini') return; // never answers
    const [status, body] = pages.get(req.url ?? '') ?? [404, 'not here'];
    res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  await publishAmqp(url, { body: `${base}/confs/trac.ini` });
  const added = await c.upsert('trac.ini');
  assert.deepEqual(added.config, { text: '[vassal]\ncommand = trac\n', format: 'ini' });
  assert.equal(added.pushed, true);

  pages.set('/confs/trac.ini', [200, '[vassal]\ncommand = trac2\n']);
  await publishAmqp(url, { body: `${base}/confs/trac.ini` });
  await c.upsert('trac.ini', (s) => s.config.text.includes('trac2'));

  const before = c.events.length;
  await publishAmqp(url, { body: `${base}/slow.ini` });
  const slow = await c.error(/no answer within 2000 ms/);
  assert.ok(isEmperorError(slow, 'EMP_ERR_CONFIG_READ'));
  await publishAmqp(url, { body: `${base}/confs/noext` });
  await c.error(/"noext" has no valid config extension/);
  assert.deepEqual(removes(c.since(before)), [], 'an unanswered fetch never removes');

  pages.set('/confs/trac.ini', [503, 'maintenance']);
  await publishAmqp(url, { body: `${base}/confs/trac.ini` });
  await c.removal('trac.ini');
});

test('two emperors on one exchange both get every message', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const one = await start(t, url);
  const two = await start(t, url);
  await publishAmqp(url, { name: 'shared.ini', body: '[vassal]\ncommand = x\n' });
  const [a, b] = await Promise.all([one.c.upsert('shared.ini'), two.c.upsert('shared.ini')]);
  assert.equal(a.config.text, b.config.text);
  await publishAmqp(url, { name: 'shared.ini', body: '' });
  await Promise.all([one.c.removal('shared.ini'), two.c.removal('shared.ini')]);
});

test('the default exchange is uwsgi.emperor, as existing publishers expect', async (t) => {
  if (!needBroker(t)) return;
  const { c } = await start(t, BROKER);
  const name = `default-${run}.ini`;
  // A publisher that knows nothing of this project: plain amqplib, empty routing key for paths,
  // the vassal name for config text.
  const conn = await amqp.connect(BROKER);
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  ch.publish('uwsgi.emperor', name, Buffer.from('[vassal]\ncommand = y\n'));
  ch.publish('uwsgi.emperor', name, Buffer.alloc(0));
  await ch.waitForConfirms();
  await c.upsert(name);
  await c.removal(name);
});

test('a topic exchange delivers only what the bindings select', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}&type=topic&binding=*.ini`;
  const { c } = await start(t, url);
  await publishAmqp(url, { name: 'skipped.yaml', body: 'vassal: {}\n' });
  await publishAmqp(url, { name: 'taken.ini', body: '[vassal]\n' });
  await c.upsert('taken.ini');
  assert.deepEqual(upserts(c.events), ['taken.ini'], 'messages arrive in order, so skipped.yaml would have come first');
});

test('credentials and vhost in the URL are honoured; a refused login is an error, not a crash', async (t) => {
  if (!needBroker(t)) return;
  const vhost = `emperor-vh-${run}`;
  const user = `emperor-u-${run}`;
  await rabbitmqctl('add_vhost', vhost);
  t.after(() => rabbitmqctl('delete_vhost', vhost).then(() => undefined, () => undefined));
  await rabbitmqctl('add_user', user, 's3cret');
  t.after(() => rabbitmqctl('delete_user', user).then(() => undefined, () => undefined));
  await rabbitmqctl('set_permissions', '-p', vhost, user, '.*', '.*', '.*');

  const url = `amqp://${user}:s3cret@127.0.0.1:5672/${vhost}?exchange=vh-test`;
  const { c } = await start(t, url);
  assert.equal(c.monitor.id, `amqp://${user}:***@127.0.0.1:5672/${vhost}?exchange=vh-test`);
  await publishAmqp(url, { name: 'tenant.ini', body: '[vassal]\n' });
  await c.upsert('tenant.ini');
  // The same exchange name on the default vhost is another exchange: nothing crosses over.
  const names = await rabbitmqctl('list_exchanges', '-p', vhost, 'name');
  assert.match(names, /^vh-test$/m);

  const tmp = await tempDir('emperor-amqp-state-');
  t.after(tmp.cleanup);
  const ctx = monitorContext(tmp.dir);
  const refused = new Collector(createAmqpMonitor(`amqp://${user}:wrong@127.0.0.1:5672/${vhost}`, ctx));
  t.after(() => refused.stop());
  const err = await refused.error(/cannot subscribe to the broker/);
  assert.match(err.message, /ACCESS_REFUSED|403|auth/i);
  assert.ok(!err.message.includes('wrong'), 'the password never reaches a message');
});

test('vassals announced before a monitor restart are restored from the state directory', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const first = await start(t, url);
  for (const n of ['a.ini', 'b.ini', 'c.json']) await publishAmqp(url, { name: n, body: n.endsWith('.json') ? '{"vassal":{}}' : '[vassal]\n' });
  await publishAmqp(url, { name: 'b.ini', body: '' });
  await first.c.removal('b.ini');
  const announced = first.c.events.filter((e) => e.type === 'upsert');
  await first.c.stop();

  const second = await start(t, url, {}, first.stateDir);
  const restored = second.c.events.filter((e) => e.type === 'upsert');
  assert.deepEqual(
    restored.map((e) => e.type === 'upsert' && e.spec).sort((x, y) => String(x && x.name).localeCompare(String(y && y.name))),
    announced.filter((e) => e.type === 'upsert' && e.spec.name !== 'b.ini').map((e) => e.type === 'upsert' && e.spec),
  );
  assert.deepEqual(errors(second.c.events), []);
  await publishAmqp(url, { name: 'd.ini', body: '[vassal]\n' });
  await second.c.upsert('d.ini');
});

test('bad input is reported with its reason and changes nothing', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const { c, stateDir } = await start(t, url, { maxConfigBytes: 64 * 1024 });
  const { dir, cleanup } = await tempDir('emperor-amqp-files-');
  t.after(cleanup);
  await mkdir(join(dir, 'adir.ini'));

  const bad: Array<[{ name?: string; body: string | Buffer }, RegExp, { uid?: number }?]> = [
    [{ name: 'a/b.ini', body: '[vassal]\n' }, /contains "\/"/],
    [{ name: '../x.ini', body: '[vassal]\n' }, /contains "\.\."/],
    [{ name: 'app.txt', body: '[vassal]\n' }, /has no valid config extension/],
    [{ name: 'latin1.ini', body: Buffer.from([0x5b, 0x76, 0xe9, 0x5d, 0x0a]) }, /not valid UTF-8/],
    [{ name: 'huge.ini', body: Buffer.alloc(100 * 1024 * 1024, 0x61) }, /104857600 bytes, above the 65536-byte limit/],
    [{ body: Buffer.alloc(100 * 1024 * 1024, 0x2f) }, /104857600-byte body: expected a config path or URL/],
    [{ body: 'etc/app.ini' }, /must hold an absolute config path or an http\(s\) URL/],
    [{ body: '' }, /empty body/],
    [{ body: Buffer.from([0x2f, 0xff, 0xfe]) }, /not valid UTF-8/],
    [{ body: join(dir, 'adir.ini') }, /is a directory/],
    [{ body: join(dir, 'noext') }, /has no valid config extension/],
  ];
  const before = c.events.length;
  for (const [msg] of bad) await publishAmqp(url, msg, { timeoutMs: 60_000 });
  const conn = await amqp.connect(BROKER);
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  ch.publish(url.slice(url.indexOf('=') + 1), 'id.ini', Buffer.from('[vassal]\n'), { headers: { uid: 'root' } });
  await ch.waitForConfirms();
  await publishAmqp(url, { name: 'sentinel.ini', body: '[vassal]\n' });
  await c.upsert('sentinel.ini', undefined, 60_000);

  const seen = c.since(before);
  assert.deepEqual(upserts(seen), ['sentinel.ini']);
  assert.deepEqual(removes(seen), []);
  const reported = errors(seen);
  assert.deepEqual(reported.map((e) => e.message).length, bad.length + 1, reported.map((e) => e.message).join('\n'));
  bad.forEach(([, pattern], i) => assert.match(reported[i]!.message, pattern));
  assert.match(reported[bad.length]!.message, /header uid is "root": expected a decimal uid/);
  for (const e of reported) assert.ok(isEmperorError(e), `${e.message} carries a code`);
  await eventually(async () => (await new StateStore(stateDir, url).load()).records.map((r) => r.spec.name), ['sentinel.ini'], 'the state store');
});

test('tyrant mode: a file config runs as its owner; a carried config needs uid and gid headers', async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const { c } = await start(t, url, { tyrant: true });
  const { dir, cleanup } = await tempDir('emperor-amqp-files-');
  t.after(cleanup);
  const file = join(dir, 'owned.ini');
  await writeFile(file, '[vassal]\n');
  const { chown } = await import('node:fs/promises');
  await chown(file, 4242, 4343);

  await publishAmqp(url, { body: file }, { uid: 1, gid: 1 });
  const owned = await c.upsert('owned.ini');
  assert.equal(owned.uid, 4242, 'the file owner, not the header');
  assert.equal(owned.gid, 4343);

  await publishAmqp(url, { name: 'carried.ini', body: '[vassal]\n' });
  const err = await c.error(/tyrant mode needs the uid and gid/);
  assert.ok(isEmperorError(err, 'EMP_ERR_PERMISSION'));
  await publishAmqp(url, { name: 'carried.ini', body: '[vassal]\n' }, { uid: 5000, gid: 5001 });
  const carried = await c.upsert('carried.ini');
  assert.deepEqual([carried.uid, carried.gid], [5000, 5001]);
});

test('a flood is handled completely, in order, with the backlog left at the broker', async (t) => {
  if (!needBroker(t)) return;
  const exchange = exchangeFor(t);
  const url = `${BROKER}?exchange=${exchange}`;
  const tmp = await tempDir('emperor-amqp-state-');
  t.after(tmp.cleanup);
  const ctx = monitorContext(tmp.dir);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const it = createAmqpMonitor(url, ctx).events(ac.signal)[Symbol.asyncIterator]();
  const firstEvent = it.next();
  await ctx.log.waitFor((r) => r.msg === 'amqp subscribed', 20_000);

  const total = 3000;
  const conn = await amqp.connect(BROKER);
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createConfirmChannel();
  for (let i = 0; i < total; i++) ch.publish(exchange, `flood-${i % 10}.ini`, Buffer.from(`[vassal]\n; seq=${i}\n`));
  await ch.waitForConfirms();
  assert.equal((await firstEvent).done, false);

  // The emperor is not taking events: at most the prefetch may have left the broker.
  const bindings = await rabbitmqctl('list_bindings', 'source_name', 'destination_name');
  const queue = bindings.split('\n').map((l) => l.split('\t')).find(([src]) => src === exchange)?.[1];
  assert.ok(queue, 'the monitor queue is bound to the exchange');
  const row = (await rabbitmqctl('list_queues', 'name', 'messages_ready', 'messages_unacknowledged'))
    .split('\n').map((l) => l.split('\t')).find(([n]) => n === queue);
  assert.ok(row, 'the queue is listed');
  assert.ok(Number(row[2]) <= 64, `unacknowledged ${row[2]} <= prefetch 64`);
  assert.ok(Number(row[1]) >= total - 64 - 1, `ready ${row[1]}: the backlog waits at the broker`);

  const seqs: number[] = [];
  const first = (await firstEvent).value as MonitorEvent;
  for (let e: MonitorEvent = first; ; ) {
    assert.equal(e.type, 'upsert', e.type === 'error' ? e.error.message : undefined);
    if (e.type === 'upsert') seqs.push(Number(/seq=(\d+)/.exec(e.spec.config.text)?.[1]));
    if (seqs.length === total) break;
    const next = await it.next();
    assert.equal(next.done, false);
    e = next.value as MonitorEvent;
  }
  assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i));
  // The last message's record is written while the event is taken: wait for it.
  await eventually(async () => (await new StateStore(tmp.dir, url).load()).records.map((r) => r.spec.config.text).sort(), Array.from({ length: 10 }, (_, i) => `[vassal]\n; seq=${total - 10 + i}\n`).sort(), 'the state store');
  await it.return?.(undefined);
});

test('publishing to a broker that is not there fails with a clear error', async () => {
  const port = await freePort();
  await assert.rejects(
    publishAmqp(`amqp://127.0.0.1:${port}?exchange=nowhere`, { name: 'a.ini', body: 'x' }, { timeoutMs: 3_000 }),
    (err) => isEmperorError(err, 'EMP_ERR_MONITOR') && /publishing to amqp:\/\/127\.0\.0\.1:\d+\?exchange=nowhere \(exchange nowhere\) failed: .*ECONNREFUSED/.test(err.message),
  );
});

test('a broker restart: reported, vassals kept, reconnected, later messages applied', { timeout: 240_000 }, async (t) => {
  if (!needBroker(t)) return;
  const url = `${BROKER}?exchange=${exchangeFor(t)}`;
  const { c, ctx } = await start(t, url);
  await publishAmqp(url, { name: 'kept.ini', body: '[vassal]\n' });
  await c.upsert('kept.ini');
  const before = c.events.length;

  try {
    await rabbitmqctl('stop_app');
    await c.error(/lost the broker connection/, 60_000);
  } finally {
    await rabbitmqctl('start_app');
  }
  await ctx.log.waitFor((r) => r.msg === 'amqp broker reachable again: subscribed', 90_000);
  await publishAmqp(url, { name: 'after.ini', body: '[vassal]\n' }, { timeoutMs: 30_000 });
  await c.upsert('after.ini', undefined, 30_000);

  const during = c.since(before);
  assert.deepEqual(removes(during), [], 'losing the broker removes nothing');
  assert.deepEqual(upserts(during), ['after.ini']);
  assert.ok(errors(during).every((e) => isEmperorError(e, 'EMP_ERR_MONITOR')));
  await waitFor(() => canConnect(5672), { what: 'the broker to accept connections again' });
});
