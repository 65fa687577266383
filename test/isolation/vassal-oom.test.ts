/**
 * A vassal with a memory limit, its alarm subsystem and the cgroup-eventfd triggers, all real: the
 * worker allocates until the kernel kills it, the memory alarm fires when usage crosses the
 * threshold, the OOM alarm when the kernel kills, and the vassal restarts the worker as a crash.
 * (The emperor around it only adds the calls of isolation.ts this test makes itself.)
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AlarmSubsystem } from '../../src/alarms/subsystem.js';
import { loadVassalConfig } from '../../src/config/load.js';
import { planVassal } from '../../src/core/plan.js';
import { Vassal } from '../../src/core/vassal.js';
import { Isolation } from '../../src/isolation/isolation.js';
import { MemoryLogger } from '../../src/log/logger.js';
import type { OutputSink } from '../../src/log/output.js';
import { PluginTable } from '../../src/plugin-table.js';
import { tempDir, waitFor } from '../helpers/wait.js';
import { noCgroups, testSettings } from './cgroups.js';

const alloc = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'native-alloc.mjs');
const MB = 1024 * 1024;

const nullOutput: OutputSink = { line: () => {}, dropped: 0, congested: () => false, whenDrained: (fn) => fn(), close: () => Promise.resolve() };

describe('a vassal in a memory-limited cgroup (real OOM)', { skip: noCgroups }, () => {
  it('alarms at the threshold and at the OOM kill, restarts the worker as a crash, and removes its cgroup when stopped', { timeout: 90_000 }, async () => {
    const { settings, cleanup } = await testSettings();
    const { dir, cleanup: rmTemp } = await tempDir();
    const log = new MemoryLogger();
    const iso = await Isolation.create({ tyrant: false, tyrantInitgroups: false, log, cgroupRoot: settings.root });
    const plugins = new PluginTable();
    const memsw = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ? `cgroup-opt = memory.memsw.limit_in_bytes=${60 * MB}\n` : '';
    const path = join(dir, 'hungry.ini');
    await writeFile(path, `[vassal]
command = ${process.execPath} ${alloc}
cgroup = hungry-%n
cgroup-opt = memory.limit_in_bytes=${60 * MB}
${memsw}alarm = mem log:memory
alarm = oom log:oom
alarm-memory = mem 20M
alarm-oom = oom
env = CGROUP=%(cgroup)
ready = alive:50
`);
    const spec = { name: 'hungry.ini', source: dir, config: { text: await readFile(path, 'utf8'), format: 'ini' as const, path }, revision: '1' };
    const loaded = loadVassalConfig(spec.config, { name: spec.name, hostname: 'test', env: process.env, computed: iso.computed() });
    assert.equal(loaded.kind, 'vassal');
    if (loaded.kind !== 'vassal') return;
    const plan = await planVassal(spec, loaded.config, { env: process.env, defaultCwd: dir, isRoot: true, ...iso.planContext() });
    const cgroupPath = `/sys/fs/cgroup/memory/${settings.root}/hungry-hungry`;
    assert.equal(plan.cgroup?.path, cgroupPath);
    assert.equal(plan.worker.env.CGROUP, cgroupPath, '%(cgroup) is the absolute path');

    const isolation = iso.forVassal(spec.name);
    const vlog = log.child({ vassal: spec.name });
    await isolation.prepare(plan);
    const vassal = new Vassal(plan, {
      log: vlog,
      output: nullOutput,
      backoff: { throttleMs: 5000, maxThrottleMs: 5000, resetMs: 60_000 },
      createAlarms: (host) =>
        AlarmSubsystem.create(host.plan.config, {
          vassal: host.vassal,
          log: host.log,
          signalWorkers: host.signalWorkers,
          pids: host.pids,
          ...(host.plan.cgroup ? { cgroupPath: host.plan.cgroup.path } : {}),
          resolveAction: (prefix) => plugins.action(prefix),
          resolveTrigger: (option) => plugins.trigger(option),
        }),
    });
    try {
      await vassal.start();
      const oom = await log.waitFor((r) => typeof r.msg === 'string' && r.msg.includes('ALARM: oom'), 60_000);
      assert.equal(oom.msg, `[emperor-alarm] ALARM: oom out of memory in cgroup ${cgroupPath} (limit 60 MiB)`);
      const mem = log.records.find((r) => r.msg.includes('ALARM: memory'));
      assert.ok(mem, 'the memory alarm fired');
      assert.match(mem.msg, new RegExp(`ALARM: memory memory usage of cgroup ${cgroupPath} reached [\\d.]+ MiB, above the alarm-memory threshold of 20 MiB$`));
      assert.ok(log.records.indexOf(mem) < log.records.indexOf(oom));
      const crash = await log.waitFor((r) => r.event === 'crash', 30_000);
      assert.equal(crash.signal, 'SIGKILL');
      assert.match(crash.msg, /restarting now/);
      await waitFor(() => vassal.restarts >= 1 && vassal.pids.length === 1, { what: 'the restarted worker' });
    } finally {
      const began = Date.now();
      await vassal.stop();
      await isolation.release(plan, began);
      await rmTemp();
    }
    assert.equal(existsSync(cgroupPath), false, 'the cgroup is removed with the vassal');
    assert.equal(existsSync(`/sys/fs/cgroup/unified/${settings.root}/hungry-hungry`), false);
    await cleanup();
  });
});
