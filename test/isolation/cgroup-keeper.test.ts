import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from '../../src/core/worker.js';
import { MemoryLogger } from '../../src/log/logger.js';
import { CgroupKeeper } from '../../src/isolation/cgroup-keeper.js';
import { checkCgroupOpts, killCgroup } from '../../src/isolation/cgroup-fs.js';
import { cgroupProcsFiles, planCgroup } from '../../src/isolation/cgroup-plan.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';
import { cgroupOf, noCgroups, noV2, testSettings } from './cgroups.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const escape = join(fixtures, 'iso-escape.sh');

function spawnIn(procs: readonly string[], argv: string[]): { worker: Worker; lines: string[] } {
  const lines: string[] = [];
  // No pid namespace: the escapee must outlive its worker, as it would without one.
  const worker = Worker.spawn({ argv, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cgroupProcs: procs, pidns: false }, (l) => lines.push(l));
  return { worker, lines };
}

async function escapee(pidFile: string): Promise<number> {
  return waitFor(async () => {
    const t = await readFile(pidFile, 'utf8').catch(() => '');
    return /^\d+\n$/.test(t) ? Number(t) : undefined;
  }, { what: `the escapee's pid in ${pidFile}` });
}

describe('vassal cgroups (real cgroups)', { skip: noCgroups }, () => {
  it('creates the cgroup in the memory and v2 hierarchies, writes its options, and workers run inside from the start', async () => {
    const { settings, cleanup } = await testSettings();
    const keeper = new CgroupKeeper(new MemoryLogger(), false);
    try {
      const plan = planCgroup('app', [{ file: 'memory.limit_in_bytes', value: String(64 * 1024 * 1024) }], settings);
      await keeper.prepare('app.ini', plan);
      assert.equal(keeper.holder(plan.relative), 'app.ini');
      assert.equal(await readFile(`${plan.path}/memory.limit_in_bytes`, 'utf8'), `${64 * 1024 * 1024}\n`);
      for (const d of plan.dirs) assert.ok(existsSync(`${d.path}/cgroup.procs`), d.path);

      const { worker, lines } = spawnIn(cgroupProcsFiles(plan), ['sh', '-c', 'sleep 1000 & echo child $!; wait']);
      const child = Number((await waitFor(() => lines.find((l) => l.startsWith('child ')), { what: 'the child pid' })).slice(6));
      for (const pid of [worker.pid, child]) {
        assert.equal(await cgroupOf(pid, 'memory'), `/${plan.relative}`);
        if (settings.layout.v2) assert.equal(await cgroupOf(pid, ''), `/${plan.relative}`);
      }
      await worker.stop('SIGTERM', 2000);
      await keeper.release('app.ini', { signal: 'SIGTERM', deadline: Date.now() });
      for (const d of plan.dirs) assert.equal(existsSync(d.path), false, `${d.path} removed`);
      assert.equal(keeper.holder(plan.relative), undefined);
    } finally {
      await cleanup();
    }
  });

  it('kills what left the process group once the stop deadline passes, then removes the cgroup', async () => {
    const { settings, cleanup } = await testSettings();
    const { dir, cleanup: rmTemp } = await tempDir();
    const log = new MemoryLogger();
    const keeper = new CgroupKeeper(log, false);
    try {
      const plan = planCgroup('daemon', [], settings);
      await keeper.prepare('daemon.ini', plan);
      const { worker } = spawnIn(cgroupProcsFiles(plan), [escape, 'ignore-term', join(dir, 'pid')]);
      const stray = await escapee(join(dir, 'pid'));
      const r = await worker.stop('SIGTERM', 5000);
      assert.equal(r.forced, false);
      assert.ok(await isAlive(stray), 'the escapee survives its worker and its process group');

      const began = Date.now();
      await keeper.release('daemon.ini', { signal: 'SIGTERM', deadline: began + 300 });
      assert.ok(Date.now() - began >= 290, 'it had until the deadline to stop on SIGTERM');
      assert.equal(await isAlive(stray), false);
      for (const d of plan.dirs) assert.equal(existsSync(d.path), false);
      assert.ok(log.records.some((r) => r.event === 'cgroup-stop' && (r.pids as number[]).includes(stray)));
      assert.ok(log.records.some((r) => r.event === 'cgroup-kill' && (r.pids as number[]).includes(stray)));
    } finally {
      await rmTemp();
      await cleanup();
    }
  });

  it('an escapee that honours the stop signal is not killed', async () => {
    const { settings, cleanup } = await testSettings();
    const { dir, cleanup: rmTemp } = await tempDir();
    const log = new MemoryLogger();
    const keeper = new CgroupKeeper(log, false);
    try {
      const plan = planCgroup('polite', [], settings);
      await keeper.prepare('polite.ini', plan);
      const { worker } = spawnIn(cgroupProcsFiles(plan), [escape, 'honour-term', join(dir, 'pid')]);
      const stray = await escapee(join(dir, 'pid'));
      await worker.stop('SIGTERM', 5000);
      await keeper.release('polite.ini', { signal: 'SIGTERM', deadline: Date.now() + 10_000 });
      assert.equal(await isAlive(stray), false);
      assert.ok(log.records.some((r) => r.event === 'cgroup-stop'));
      assert.ok(!log.records.some((r) => r.event === 'cgroup-kill'), 'SIGTERM was enough');
      for (const d of plan.dirs) assert.equal(existsSync(d.path), false);
    } finally {
      await rmTemp();
      await cleanup();
    }
  });

  it('names the option and the right file when a cgroup-opt does not exist in this cgroup version', async () => {
    const { settings, cleanup } = await testSettings();
    const keeper = new CgroupKeeper(new MemoryLogger(), false);
    try {
      const plan = planCgroup('wrong', [{ file: 'memory.max', value: '100M' }], settings);
      const expected = { code: 'EMP_ERR_CONFIG_INVALID', key: 'cgroup-opt', message: /^cgroup-opt memory\.max=100M: cannot write .*\/memory\.max: no such file in this cgroup v1 hierarchy \(its counterpart there may be memory\.limit_in_bytes\)$/ };
      await assert.rejects(checkCgroupOpts(plan), expected);
      await assert.rejects(keeper.prepare('wrong.ini', plan), expected);
      // Created before the option failed: still recorded, so the vassal's release removes it.
      assert.equal(keeper.holder(plan.relative), 'wrong.ini');
      await keeper.release('wrong.ini', { signal: 'SIGTERM', deadline: Date.now() });
      for (const d of plan.dirs) assert.equal(existsSync(d.path), false);

      const bad = planCgroup('bad', [{ file: 'memory.limit_in_bytes', value: 'lots' }], settings);
      await assert.rejects(keeper.prepare('bad.ini', bad), { message: /cannot write .*memory\.limit_in_bytes: the kernel refused the value 'lots'/ });
      await keeper.release('bad.ini', { signal: 'SIGTERM', deadline: Date.now() });
    } finally {
      await cleanup();
    }
  });

  it('one cgroup per vassal; in tyrant mode none inside another', async () => {
    const { settings, cleanup } = await testSettings();
    const keeper = new CgroupKeeper(new MemoryLogger(), true);
    try {
      const a = planCgroup('team', [], settings);
      await keeper.prepare('a.ini', a);
      await assert.rejects(keeper.prepare('b.ini', planCgroup('team', [], settings)), { code: 'EMP_ERR_CONFIG_INVALID', message: /is already the cgroup of vassal 'a\.ini'/ });
      assert.throws(() => keeper.check('c.ini', planCgroup('team/inner', [], settings)), { code: 'EMP_ERR_PERMISSION', message: /would lie inside the cgroup of vassal 'a\.ini'/ });
      await keeper.prepare('a.ini', a);
      await keeper.release('a.ini', { signal: 'SIGTERM', deadline: Date.now() });
      await keeper.prepare('b.ini', planCgroup('team', [], settings));
      await keeper.release('b.ini', { signal: 'SIGTERM', deadline: Date.now() });
    } finally {
      await cleanup();
    }
  });

  it('leaves alone a cgroup outside the root that it did not create', async () => {
    const { settings, cleanup } = await testSettings();
    const log = new MemoryLogger();
    const keeper = new CgroupKeeper(log, false);
    const elsewhere = planCgroup(`/sys/fs/cgroup/memory/${settings.root}-outside`, [], settings);
    try {
      assert.equal(elsewhere.managed, false);
      await keeper.prepare('x.ini', elsewhere);
      // Created by this emperor: removed at release even though it is outside the root.
      await keeper.release('x.ini', { signal: 'SIGTERM', deadline: Date.now() });
      assert.equal(existsSync(elsewhere.path), false);

      await keeper.prepare('x.ini', elsewhere);
      const fresh = new CgroupKeeper(log, false);
      await fresh.prepare('x.ini', elsewhere);
      await fresh.release('x.ini', { signal: 'SIGTERM', deadline: Date.now() });
      assert.ok(existsSync(elsewhere.path), 'an existing cgroup outside the root is kept');
      assert.ok(log.records.some((r) => r.event === 'cgroup-kept'));
    } finally {
      await keeper.release('x.ini', { signal: 'SIGTERM', deadline: Date.now() });
      assert.equal(existsSync(elsewhere.path), false);
      await cleanup();
    }
  });
});

describe('cgroup v2 paths (the unified hierarchy, no controllers on this host)', { skip: noV2 }, () => {
  it('creates, joins, kills with cgroup.kill and removes a v2-only cgroup', async () => {
    const full = await testSettings();
    const v2 = full.settings.layout.v2!;
    const { settings, cleanup } = await testSettings({ layout: { v1: [], v2 } });
    const keeper = new CgroupKeeper(new MemoryLogger(), false);
    try {
      const plan = planCgroup('v2app', [], settings);
      assert.deepEqual(plan.dirs.map((d) => d.path), [`${v2.mount}/${settings.root}/v2app`]);
      assert.equal(plan.path, `${v2.mount}/${settings.root}/v2app`);
      await keeper.prepare('v2app.ini', plan);
      const { dir, cleanup: rmTemp } = await tempDir();
      try {
        const { worker } = spawnIn(cgroupProcsFiles(plan), [escape, 'ignore-term', join(dir, 'pid')]);
        const stray = await escapee(join(dir, 'pid'));
        assert.equal(await cgroupOf(stray, ''), `/${plan.relative}`);
        assert.ok(existsSync(`${plan.path}/cgroup.kill`));
        assert.equal(await killCgroup(plan), 0);
        await worker.exited;
        assert.equal(await isAlive(stray), false);
        await keeper.release('v2app.ini', { signal: 'SIGTERM', deadline: Date.now() });
        assert.equal(existsSync(plan.path), false);
      } finally {
        await rmTemp();
      }
    } finally {
      await cleanup();
      await full.cleanup();
    }
  });
});
