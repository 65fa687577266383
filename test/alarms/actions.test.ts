import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cmdAction } from '../../src/alarms/actions/cmd.js';
import { logAction } from '../../src/alarms/actions/log.js';
import { parseSignal, signalAction } from '../../src/alarms/actions/signal.js';
import { runBounded } from '../../src/alarms/queue.js';
import { ALARM_LOG_PREFIX } from '../../src/alarms/prefix.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { MemoryLogger } from '../../src/log/logger.js';
import type { AlarmActionHost, AlarmFiring } from '../../src/plugin.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';

function host(over: Partial<AlarmActionHost> = {}): AlarmActionHost & { log: MemoryLogger } {
  return { vassal: 'app.ini', log: new MemoryLogger(), signalWorkers: () => {}, ...over } as AlarmActionHost & { log: MemoryLogger };
}

const firing = (message: string, alarm = 'a'): AlarmFiring => ({ alarm, vassal: 'app.ini', message });
const opts = () => ({ signal: new AbortController().signal, timeoutMs: 10_000 });

test('log: writes "ALARM: prefix message" with the alarm marker', async () => {
  const h = host();
  await logAction('disk', h).run(firing('FATAL disk full', 'disk-alarm'), opts());
  await logAction('', h).run(firing('no prefix'), opts());
  assert.deepEqual(h.log.records.map((r) => r.msg), [
    `${ALARM_LOG_PREFIX} ALARM: disk FATAL disk full`,
    `${ALARM_LOG_PREFIX} ALARM: no prefix`,
  ]);
  assert.equal(h.log.records[0]?.alarm, 'disk-alarm');
});

test('cmd: runs through /bin/sh with the message on stdin and the alarm in its env', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const out = join(dir, 'got');
    const h = host({ cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    await cmdAction(`cat > got; echo "$EMPEROR_ALARM $EMPEROR_VASSAL $(pwd)" >> got`, h).run(firing('FATAL it broke', 'mail'), opts());
    assert.equal(await readFile(out, 'utf8'), `FATAL it broke\nmail app.ini ${dir}\n`);
  } finally {
    await cleanup();
  }
});

test('cmd: a failing command rejects and its output is logged as alarm output', async () => {
  const h = host();
  await assert.rejects(
    cmdAction('echo oops >&2; exit 3', h).run(firing('x'), opts()),
    (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.ALARM_ACTION && /exited with code 3/.test(err.message),
  );
  const rec = h.log.records.find((r) => r.msg.includes('cmd output'));
  assert.ok(rec);
  assert.ok(rec.msg.startsWith(ALARM_LOG_PREFIX));
  assert.match(rec.msg, /oops/);
});

test('cmd: a command that ignores stdin is fine; an empty command is a config error', async () => {
  await cmdAction('true', host()).run(firing('x'.repeat(1 << 20)), opts());
  assert.throws(() => cmdAction('   ', host()), (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.CONFIG_INVALID);
});

test('cmd: on timeout its whole process group is killed', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const h = host({ cwd: dir });
    // A shell that starts a grandchild and waits: both must die.
    const started = Date.now();
    await assert.rejects(runBounded((signal) => cmdAction('sleep 300 & echo $! > child.pid; wait', h).run(firing('x'), { signal, timeoutMs: 300 }), 300, new AbortController().signal), /timed out/);
    assert.ok(Date.now() - started < 5000);
    const pid = Number(await waitFor(async () => (await readFile(join(dir, 'child.pid'), 'utf8').catch(() => '')).trim() || undefined, { what: 'child.pid' }));
    await waitFor(async () => !(await isAlive(pid)), { what: `grandchild ${pid} to die` });
  } finally {
    await cleanup();
  }
});

test('cmd: with credentials it runs as that user (nobody), without the emperor env', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await chmod(dir, 0o755);
    process.env.EMPEROR_TEST_SECRET = 'hunter2';
    const h = host({ credentials: { uid: 65534, gid: 65534 }, cwd: dir });
    await cmdAction('echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) secret=${EMPEROR_TEST_SECRET:-none}"', h).run(firing('x', 'who'), opts());
    const rec = h.log.records.find((r) => r.msg.includes('cmd output'));
    assert.ok(rec, 'output logged');
    assert.match(rec.msg, /uid=65534 gid=65534 groups=65534 secret=none/);
  } finally {
    delete process.env.EMPEROR_TEST_SECRET;
    await cleanup();
  }
});

test('cmd: a user who cannot enter the cwd makes the run fail, not the emperor', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await chmod(dir, 0o700);
    await writeFile(join(dir, 'x'), '');
    const h = host({ credentials: { uid: 65534, gid: 65534 }, cwd: dir });
    await assert.rejects(cmdAction('true', h).run(firing('x'), opts()), (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.ALARM_ACTION);
  } finally {
    await cleanup();
  }
});

test('signal: names, SIG-names and numbers; garbage is a config error', () => {
  assert.equal(parseSignal('HUP'), 'SIGHUP');
  assert.equal(parseSignal('sigusr1'), 'SIGUSR1');
  assert.equal(parseSignal('SIGTERM'), 'SIGTERM');
  assert.equal(parseSignal('17'), 17);
  for (const bad of ['', 'NOPE', '0', '65', '-1']) {
    assert.throws(() => parseSignal(bad), (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.CONFIG_INVALID, bad);
  }
});

test('signal: reaches a real worker through host.signalWorkers', async () => {
  const child = spawn(process.execPath, [new URL('../fixtures/alarm-signal-worker.mjs', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  try {
    await waitFor(() => out.includes('ready'), { what: 'worker ready' });
    const h = host({ signalWorkers: (sig) => void process.kill(child.pid!, sig) });
    await signalAction('USR2', h).run(firing('x'), opts());
    await waitFor(() => out.includes('got SIGUSR2'), { what: 'SIGUSR2 delivered' });
    await signalAction('1', h).run(firing('x'), opts());
    await waitFor(() => out.includes('got SIGHUP'), { what: 'SIGHUP (1) delivered' });
  } finally {
    child.kill('SIGKILL');
  }
});
