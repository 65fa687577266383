/**
 * No orphans, whatever way the emperor ends, and the signals users send it. As root, workers run
 * in a PID namespace of their own, so even a grandchild that called setsid dies with them; as
 * non-root, the worker's process group does.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmperorProcess, FIXTURES } from '../helpers/emperor-process.js';
import { alive, descendants } from '../helpers/procs.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { tempDir, waitFor } from '../helpers/wait.js';

const isRoot = process.getuid?.() === 0;

for (const how of ['SIGTERM', 'SIGINT', 'uncaught error', 'SIGKILL'] as const) {
  test(`no worker or grandchild survives the emperor ending by ${how}`, async () => {
    const { dir, cleanup } = await tempDir();
    const trigger = join(dir, 'crash-now');
    const args = [dir, ...(how === 'uncaught error' ? ['--plugin', join(FIXTURES, 'crash-plugin.mjs')] : [])];
    const emp = new EmperorProcess(args, { env: { CRASH_PLUGIN_TRIGGER: trigger } });
    try {
      const pidfile = join(dir, 'pids');
      await writeVassal(dir, 'forker.ini', `[vassal]\ncommand = ${join(FIXTURES, 'forker.sh')}\nenv = PIDFILE=${pidfile}\nstop-timeout = 2`);
      await writeVassal(dir, 'tick.ini', nodeVassal(join(FIXTURES, 'ticker.mjs')));
      const workers = [...((await emp.event('forker.ini', 'ready')).pids as number[]), ...((await emp.event('tick.ini', 'ready')).pids as number[])];
      await waitFor(async () => (await readFile(pidfile, 'utf8').catch(() => '')).includes('ready'), { what: 'forker started its grandchildren' });
      const below = await descendants(workers);
      assert.ok(below.filter((p) => !workers.includes(p.sid)).length >= 1, 'one grandchild left the session (setsid)');
      // As non-root, a grandchild in a session of its own escapes the process group by design.
      const mustDie = [...workers, ...below.filter((p) => isRoot || workers.includes(p.sid)).map((p) => p.pid)];

      if (how === 'uncaught error') await writeFile(trigger, '');
      else emp.signal(how === 'SIGKILL' ? 'SIGKILL' : how);
      const exit = await emp.exited;
      if (how === 'SIGTERM' || how === 'SIGINT') assert.equal(exit.code, 0, 'graceful stop exits 0');
      if (how === 'uncaught error') {
        assert.equal(exit.code, 1);
        assert.ok(emp.records.some((r) => r.event === 'fatal' && /plugin bug: boom/.test(r.msg ?? '')), 'the fatal error is logged');
      }
      if (how === 'SIGKILL') assert.equal(exit.signal, 'SIGKILL');
      await waitFor(async () => {
        for (const p of mustDie) if (await alive(p)) return false;
        return true;
      }, { what: `every worker${isRoot ? ' and grandchild' : ''} gone after ${how}`, timeoutMs: 10_000 });
    } finally {
      await emp.stop();
      await cleanup();
    }
  });
}

test('a second SIGTERM kills at once', async () => {
  const { dir, cleanup } = await tempDir();
  const emp = new EmperorProcess([dir]);
  try {
    await writeVassal(dir, 'stub.ini', nodeVassal(join(FIXTURES, 'stubborn.mjs'), 'stop-timeout = 60'));
    const pid = ((await emp.event('stub.ini', 'ready')).pids as number[])[0]!;
    emp.signal('SIGTERM');
    await emp.event(undefined, 'shutdown');
    await emp.line('stub.ini', /ignores SIGTERM/);
    const t0 = Date.now();
    emp.signal('SIGTERM');
    const exit = await emp.exited;
    assert.equal(exit.code, 1);
    assert.ok(Date.now() - t0 < 10_000, 'did not wait for the 60 s stop timeout');
    await waitFor(async () => !(await alive(pid)), { what: 'stubborn worker killed' });
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('SIGHUP reloads every vassal; SIGUSR1 logs a status table', async () => {
  const { dir, cleanup } = await tempDir();
  const emp = new EmperorProcess([dir]);
  try {
    await writeVassal(dir, 'a.ini', nodeVassal(join(FIXTURES, 'ticker.mjs'), 'ready = alive:10'));
    await writeVassal(dir, 'b.ini', nodeVassal(join(FIXTURES, 'ticker.mjs'), 'ready = alive:10'));
    const a1 = (await emp.event('a.ini', 'ready')).pids as number[];
    const b1 = (await emp.event('b.ini', 'ready')).pids as number[];
    const ra = emp.nextEvent('a.ini', 'ready');
    const rb = emp.nextEvent('b.ini', 'ready');
    emp.signal('SIGHUP');
    assert.notDeepEqual((await ra).pids, a1);
    assert.notDeepEqual((await rb).pids, b1);
    const status = emp.nextEvent(undefined, 'status');
    emp.signal('SIGUSR1');
    const table = (await status).msg!;
    assert.match(table, /NAME\s+STATE\s+PIDS\s+UPTIME\s+RESTARTS/);
    assert.match(table, /a\.ini\s+running\s+\d+/);
    assert.match(table, /b\.ini\s+running\s+\d+/);
  } finally {
    await emp.stop();
    await cleanup();
  }
});
