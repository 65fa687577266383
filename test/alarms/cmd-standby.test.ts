/**
 * A cmd: action whose commands join the vassal's cgroup keeps the next process waiting in that
 * cgroup, so a firing does not wait for the join. Real cgroup v1 memory hierarchy, real processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cmdAction, type CmdActionHost } from '../../src/alarms/actions/cmd.js';
import { MemoryLogger } from '../../src/log/logger.js';
import type { AlarmFiring } from '../../src/plugin.js';
import { execHelperPath } from '../../src/native/exec-helper.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';

const MEMORY = '/sys/fs/cgroup/memory';
const skip =
  process.getuid?.() !== 0 ? 'needs root (cgroups)' : !existsSync(`${MEMORY}/cgroup.procs`) ? `no cgroup v1 memory hierarchy at ${MEMORY}` : execHelperPath() === undefined ? 'emperor-exec is not built' : false;

const firing = (message: string, alarm: string): AlarmFiring => ({ alarm, vassal: 'app.ini', message });
const opts = () => ({ signal: new AbortController().signal, timeoutMs: 10_000 });

async function members(cg: string): Promise<number[]> {
  return (await readFile(join(cg, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
}

async function withCgroup(fn: (cg: string, dir: string) => Promise<void>): Promise<void> {
  const cg = join(MEMORY, `emperor-test-standby-${process.pid}-${Date.now()}`);
  await mkdir(cg);
  const { dir, cleanup } = await tempDir();
  try {
    await fn(cg, dir);
  } finally {
    for (const pid of await members(cg).catch(() => [])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    await waitFor(async () => (await members(cg)).length === 0, { what: `${cg} empty` }).catch(() => undefined);
    await rmdir(cg).catch(() => undefined);
    await cleanup();
  }
}

function host(cg: string, dir: string): CmdActionHost & { log: MemoryLogger } {
  return {
    vassal: 'app.ini',
    log: new MemoryLogger(),
    signalWorkers: () => {},
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    alarm: 'mem',
    sandbox: { cgroupProcs: [join(cg, 'cgroup.procs')] },
  };
}

test('cmd standby: a process waits in the cgroup; a firing runs the command there; the next one replaces it', { skip }, async () => {
  await withCgroup(async (cg, dir) => {
    const h = host(cg, dir);
    const action = cmdAction(`cat > got-$$; echo "$EMPEROR_ALARM" >> got-$$; grep memory /proc/self/cgroup >> got-$$; echo $$ > last`, h);
    try {
      const first = await waitFor(async () => (await members(cg))[0], { what: `a standby in ${cg}` });
      await action.run(firing('usage over 100M', 'mem'), opts());
      const shell = Number((await readFile(join(dir, 'last'), 'utf8')).trim());
      const got = await readFile(join(dir, `got-${shell}`), 'utf8');
      assert.match(got, /^usage over 100M\nmem\n/);
      assert.match(got, new RegExp(`:memory:/${cg.slice(MEMORY.length + 1)}\\n$`), 'the command ran in the cgroup');
      assert.equal(await isAlive(first), false, 'the standby became the command and ended with it');
      const second = await waitFor(async () => (await members(cg)).find((p) => p !== first), { what: 'the next standby' });
      assert.deepEqual(await members(cg), [second], 'one standby at a time');
    } finally {
      await action.close?.();
    }
    assert.deepEqual(await members(cg), [], 'close() ends the standby');
    await rmdir(cg); // the vassal's cgroup can go at once
    await mkdir(cg); // (for the cleanup)
  });
});

test('cmd standby: when the waiting process was killed, a firing starts its command the ordinary way', { skip }, async () => {
  await withCgroup(async (cg, dir) => {
    const h = host(cg, dir);
    const action = cmdAction('cat > got', h);
    try {
      const standby = await waitFor(async () => (await members(cg))[0], { what: `a standby in ${cg}` });
      process.kill(standby, 'SIGKILL');
      await waitFor(async () => !(await members(cg)).includes(standby), { what: 'the standby gone' });
      await action.run(firing('still fires', 'mem'), opts());
      assert.equal(await readFile(join(dir, 'got'), 'utf8'), 'still fires\n');
      assert.deepEqual(h.log.records.filter((r) => r.level === 'error'), []);
    } finally {
      await action.close?.();
    }
  });
});

test('cmd standby: a cgroup that cannot be joined fails the firing with the helper\'s reason', { skip }, async () => {
  await withCgroup(async (cg, dir) => {
    const h = { ...host(cg, dir), sandbox: { cgroupProcs: [join(cg, 'missing', 'cgroup.procs')] } };
    const action = cmdAction('true', h);
    try {
      await assert.rejects(action.run(firing('x', 'mem'), opts()), /cmd exited with code 126/);
      const out = h.log.records.find((r) => r.msg.includes('cmd output'));
      assert.match(out?.msg ?? '', /emperor-exec: cannot open .*missing\/cgroup.procs: No such file or directory/);
    } finally {
      await action.close?.();
    }
  });
});
