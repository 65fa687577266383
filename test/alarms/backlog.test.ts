import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { BacklogWatcher, isFull } from '../../src/alarms/backlog.js';
import { parseSsListeners, readListenQueues, socketFds } from '../../src/alarms/listen-queues.js';
import { AlarmSubsystem } from '../../src/alarms/subsystem.js';
import { waitFor } from '../helpers/wait.js';
import { alarmConfig, testHost } from './host.js';

interface Fixture {
  child: ChildProcess;
  port: number;
  clients: Socket[];
  stop(): void;
}

/** A server that listens with `backlog` and never accepts, plus `connections` clients queued on it. */
async function fullServer(backlog: number, connections: number): Promise<Fixture> {
  const child = spawn(process.execPath, [new URL('../fixtures/alarm-backlog-server.mjs', import.meta.url).pathname, String(backlog)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  const port = Number(await waitFor(() => /listening (\d+)/.exec(out)?.[1], { what: 'fixture port' }));
  const clients: Socket[] = [];
  for (let i = 0; i < connections; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    clients.push(s);
  }
  return {
    child,
    port,
    clients,
    stop() {
      for (const s of clients) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

test('parses ss listener rows: tcp, tcp6 and unix paths with spaces', () => {
  const text = [
    'tcp   LISTEN 2      1                            127.0.0.1:41237  0.0.0.0:* ino:26696 sk:1 cgroup:/ <->',
    'tcp   LISTEN 0      511                               [::]:80        [::]:* ino:777 sk:2 cgroup:/ <->',
    'u_str LISTEN 3      5      /run/my app/sock 4242        * 0 <-> ino:99 dev:0/65024 peers:',
    'garbage',
  ].join('\n');
  assert.deepEqual(parseSsListeners(text), [
    { queue: 2, max: 1, address: '127.0.0.1:41237', inode: 26696 },
    { queue: 0, max: 511, address: '[::]:80', inode: 777 },
    { queue: 3, max: 5, address: '/run/my app/sock', inode: 4242 },
  ]);
});

test('on this kernel, /proc/net/tcp shows the accept queue of a listener but not its backlog; ss shows both', async () => {
  const fx = await fullServer(1, 3);
  try {
    const hex = fx.port.toString(16).toUpperCase().padStart(4, '0');
    const row = await waitFor(async () => {
      const rows = (await readFile('/proc/net/tcp', 'utf8')).split('\n').filter((l) => l.includes(`:${hex} 00000000:0000 0A`));
      const r = rows[0]?.trim().split(/\s+/);
      const queues = r?.[4]?.split(':');
      return queues && parseInt(queues[1] ?? '0', 16) >= 2 ? queues : undefined;
    }, { what: 'two connections waiting in the accept queue' });
    assert.equal(parseInt(row[0] ?? '', 16), 0, 'tx_queue of a LISTEN row is 0, not the backlog');
    const l = (await readListenQueues()).find((q) => q.address === `127.0.0.1:${fx.port}`);
    assert.ok(l);
    assert.equal(l.max, 1);
    assert.equal(l.queue, 2, 'the kernel queues backlog + 1 connections');
    assert.ok(isFull(l));
    const fds = await socketFds(fx.child.pid!);
    assert.ok(fds.has(l.inode), 'the fixture holds the listening socket');
  } finally {
    fx.stop();
  }
});

test('alarm-backlog fires with uWSGI\'s message for a worker whose listen queue is full', async () => {
  const fx = await fullServer(1, 4);
  const host = testHost({ pids: () => [fx.child.pid!] });
  const sub = await AlarmSubsystem.create(
    alarmConfig({ alarms: [{ name: 'lq', action: 'log', args: 'lq' }], alarmBacklog: ['lq'] }),
    host,
  );
  try {
    const rec = await host.log.waitFor((r) => r.msg.includes('ALARM: lq listen queue of socket'), 15_000);
    assert.match(rec.msg, new RegExp(`listen queue of socket "127\\.0\\.0\\.1:${fx.port}" \\(fd: \\d+\\) full !!! \\(2/1\\)$`));
  } finally {
    await sub.close();
    fx.stop();
  }
});

test('no alarm for a listener that is not full, nor for a full one of another process', async () => {
  const full = await fullServer(1, 4);
  const calm = await fullServer(16, 1);
  const fired: string[] = [];
  const w = new BacklogWatcher({ pids: () => [calm.child.pid!], onFull: (m) => fired.push(m), onError: (e) => assert.fail(e) });
  try {
    await waitFor(async () => (await readListenQueues()).some((q) => q.address === `127.0.0.1:${full.port}` && isFull(q)), { what: 'the other server full' });
    await w.poll();
    await w.poll();
    assert.deepEqual(fired, []);
  } finally {
    await w.close();
    full.stop();
    calm.stop();
  }
});

test('a missing ss stops the watcher with one error', async () => {
  const errors: Array<[string, boolean]> = [];
  const enoent = Object.assign(new Error('spawn ss ENOENT'), { code: 'ENOENT' });
  const w = new BacklogWatcher({ pids: () => [process.pid], onFull: () => assert.fail('no alarm'), onError: (e, fatal) => errors.push([e.message, fatal]), read: () => Promise.reject(enoent), intervalMs: 10 });
  w.start();
  await waitFor(() => errors.length > 0, { what: 'the error' });
  await w.close();
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.[1], true);
  assert.match(errors[0]?.[0] ?? '', /iproute2/);
});

test('close() is idempotent and stops polling', async () => {
  let reads = 0;
  const w = new BacklogWatcher({ pids: () => [], onFull: () => {}, onError: () => {}, read: async () => { reads++; return []; }, intervalMs: 5 });
  w.start();
  await waitFor(() => reads >= 2, { what: 'two polls' });
  const p = w.close();
  assert.equal(w.close(), p);
  await p;
  const after = reads;
  // Ten poll intervals of quiet: nothing may poll after close.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(reads, after);
});
