import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { AlarmSubsystem } from '../../src/alarms/subsystem.js';
import { isFatalSignal, segfaultReport } from '../../src/alarms/segfault.js';
import { crashReport } from '../../src/alarms/crash.js';
import { tempDir } from '../helpers/wait.js';
import { alarmConfig, alarmRecords, testHost } from './host.js';

/** Runs the segfaulting fixture and returns its real exit, with its output lines. */
async function realSegfault(): Promise<{ pid: number; code: number | null; signal: NodeJS.Signals | null; lastLines: string[] }> {
  const { dir, cleanup } = await tempDir();
  try {
    const child = spawn(process.execPath, [new URL('../fixtures/alarm-segfault.mjs', import.meta.url).pathname], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { pid: child.pid ?? 0, code, signal, lastLines: out.split('\n').filter((l) => l.length > 0) };
  } finally {
    await cleanup();
  }
}

test('a real SIGSEGV is recognised, and the report names the signal and quotes the last lines', async () => {
  const exit = await realSegfault();
  assert.equal(exit.signal, 'SIGSEGV');
  assert.equal(exit.code, null);
  assert.ok(isFatalSignal(exit.signal));
  const report = segfaultReport(exit);
  assert.ok(report);
  assert.match(report, new RegExp(`^worker ${exit.pid} killed by SIGSEGV \\(segmentation fault\\)`));
  assert.match(report, /last output:\nstarting up\nabout to touch a bad pointer$/);
});

test('normal exits and SIGTERM are not segfaults', () => {
  assert.equal(segfaultReport({ pid: 1, signal: null, lastLines: [] }), undefined);
  assert.equal(segfaultReport({ pid: 1, signal: 'SIGTERM', lastLines: [] }), undefined);
  for (const s of ['SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT'] as const) assert.ok(isFatalSignal(s), s);
});

test('alarm-segfault and alarm-crash fire from a real segfaulting worker; an expected stop is no crash', async () => {
  const exit = await realSegfault();
  const host = testHost();
  const sub = await AlarmSubsystem.create(
    alarmConfig({
      alarms: [
        { name: 'segv', action: 'log', args: 'segv' },
        { name: 'crash', action: 'log', args: 'crash' },
      ],
      alarmSegfault: ['segv'],
      alarmCrash: ['crash'],
    }),
    host,
  );
  try {
    sub.onWorkerExit({ ...exit, expected: false });
    await host.log.waitFor((r) => r.msg.includes('ALARM: crash'));
    const msgs = alarmRecords(host.log);
    assert.ok(msgs.some((m) => m.includes('ALARM: segv worker') && m.includes('killed by SIGSEGV') && m.includes('about to touch a bad pointer')), msgs.join('\n'));
    assert.ok(msgs.some((m) => m.includes('ALARM: crash worker') && m.includes('killed by SIGSEGV unexpectedly')));

    sub.onWorkerExit({ pid: 42, code: 0, signal: 'SIGTERM', lastLines: [], expected: true });
    sub.onWorkerExit({ pid: 43, code: 1, signal: null, lastLines: ['bye'], expected: false });
    await host.log.waitFor((r) => r.msg.includes('worker 43 exited with code 1 unexpectedly'));
    assert.equal(alarmRecords(host.log).filter((m) => m.includes('worker 42')).length, 0);

    sub.onBackoff('vassal app.ini entered backoff: 5 crashes in 10 s');
    await host.log.waitFor((r) => r.msg.includes('ALARM: crash vassal app.ini entered backoff'));
    assert.equal(sub.stats().fired.segv, 1);
    assert.equal(sub.stats().fired.crash, 3);
  } finally {
    await sub.close();
  }
});

test('crashReport is silent for expected exits', () => {
  assert.equal(crashReport({ pid: 1, code: 0, signal: null, lastLines: [], expected: true }), undefined);
  assert.equal(crashReport({ pid: 1, code: 2, signal: null, lastLines: [], expected: false }), 'worker 1 exited with code 2 unexpectedly');
});
