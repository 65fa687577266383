import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from '../../../src/core/worker.js';
import { CgroupKeeper } from '../../../src/isolation/cgroup-keeper.js';
import { cgroupProcsFiles, planCgroup } from '../../../src/isolation/cgroup-plan.js';
import { MemoryLogger } from '../../../src/log/logger.js';
import plugin from '../../../plugins/cgroup-eventfd/index.js';
import { EventfdTrigger } from '../../../plugins/cgroup-eventfd/eventfd-trigger.js';
import { MemoryTrigger } from '../../../plugins/cgroup-eventfd/memory-trigger.js';
import { OomTrigger } from '../../../plugins/cgroup-eventfd/oom-trigger.js';
import { waitFor } from '../../helpers/wait.js';
import { noCgroups, noV2, testSettings } from '../../isolation/cgroups.js';
import { recordingHost } from './host.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const alloc = join(repo, 'test', 'fixtures', 'native-alloc.mjs');
const MB = 1024 * 1024;

describe('cgroup-eventfd triggers (real cgroup v1, real OOM)', { skip: noCgroups }, () => {
  it('the descriptor names its three triggers', () => {
    assert.equal(plugin.name, 'cgroup-eventfd');
    assert.deepEqual(Object.keys(plugin.triggers ?? {}).sort(), ['alarm-eventfd', 'alarm-memory', 'alarm-oom']);
  });

  it('memory threshold once on the way up, raw eventfd both ways, OOM when the kernel kills the worker', { timeout: 60_000 }, async () => {
    const { settings, cleanup } = await testSettings();
    const keeper = new CgroupKeeper(new MemoryLogger(), false);
    const plan = planCgroup('hungry', [
      { file: 'memory.limit_in_bytes', value: String(60 * MB) },
      // Where swap exists, memory+swap must be capped too or the worker swaps instead of dying.
      ...(existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ? [{ file: 'memory.memsw.limit_in_bytes', value: String(60 * MB) }] : []),
    ], settings);
    const { host, raised, log, stop } = recordingHost('hungry.ini', plan.path);
    try {
      await keeper.prepare('hungry.ini', plan);
      const triggers = [
        new MemoryTrigger(['mem 20M'], host).start(),
        new OomTrigger(['oom,pager'], host).start(),
        new EventfdTrigger([`"raw:usage crossed 20 MB" ${plan.path}/cgroup.event_control ${plan.path}/memory.usage_in_bytes ${20 * MB}`], host).start(),
      ];
      await Promise.all(triggers.map((t) => t.ready()));
      assert.deepEqual(log.records.filter((r) => r.level !== 'debug'), []);

      const lines: string[] = [];
      const worker = Worker.spawn({ argv: [process.execPath, alloc], env: { PATH: process.env.PATH ?? '' }, cgroupProcs: cgroupProcsFiles(plan), pidns: false }, (l) => lines.push(l));
      const exit = await worker.exited;
      assert.equal(exit.signal, 'SIGKILL', `killed by the OOM killer (output: ${lines.slice(-3).join(' | ')})`);
      assert.match(await readFile(`${plan.path}/memory.oom_control`, 'utf8'), /^oom_kill [1-9]/m);

      await waitFor(() => raised.some((r) => r.alarms.includes('oom')), { what: 'the OOM alarm' });
      // Usage falls back under 20 MB once the worker is gone: the raw line fires again, alarm-memory does not.
      await waitFor(() => raised.filter((r) => r.alarms[0] === 'raw').length >= 2, { what: 'the downward crossing on the raw eventfd line' });

      const mem = raised.filter((r) => r.alarms[0] === 'mem');
      const oom = raised.filter((r) => r.alarms.includes('oom'));
      const raw = raised.filter((r) => r.alarms[0] === 'raw');
      assert.equal(mem.length, 1, JSON.stringify(raised));
      assert.match(mem[0]!.message, new RegExp(`^memory usage of cgroup ${plan.path} reached \\d+(\\.\\d)? MiB, above the alarm-memory threshold of 20 MiB$`));
      assert.deepEqual(oom[0]!.alarms, ['oom', 'pager']);
      assert.equal(oom[0]!.message, `out of memory in cgroup ${plan.path} (limit 60 MiB)`);
      assert.ok(mem[0]!.at <= oom[0]!.at, 'the threshold is crossed before the OOM');
      assert.deepEqual(raw.map((r) => r.message), ['usage crossed 20 MB', 'usage crossed 20 MB']);

      await Promise.all(triggers.map((t) => t.close()));
      const count = raised.length;
      // Closed before the cgroup goes: its removal signals no alarm.
      await keeper.release('hungry.ini', { signal: 'SIGTERM', deadline: Date.now() });
      assert.equal(raised.length, count);
    } finally {
      stop();
      await keeper.release('hungry.ini', { signal: 'SIGTERM', deadline: Date.now() });
      await cleanup();
    }
  });

  it('removing the cgroup under an open watch raises nothing', async () => {
    const { settings, cleanup } = await testSettings();
    const keeper = new CgroupKeeper(new MemoryLogger(), false);
    const plan = planCgroup('gone', [], settings);
    const { host, raised, stop } = recordingHost('gone.ini', plan.path);
    try {
      await keeper.prepare('gone.ini', plan);
      const triggers = [
        new OomTrigger(['oom'], host).start(),
        new EventfdTrigger([`raw ${plan.path}/cgroup.event_control ${plan.path}/memory.oom_control`], host).start(),
      ];
      await Promise.all(triggers.map((t) => t.ready()));
      await keeper.release('gone.ini', { signal: 'SIGTERM', deadline: Date.now() });
      // The kernel signals each eventfd once on removal; give the loop a few turns to deliver it.
      let turns = 0;
      await waitFor(() => ++turns > 20, { intervalMs: 10 });
      assert.deepEqual(raised, []);
      await Promise.all(triggers.map((t) => t.close()));
    } finally {
      stop();
      await cleanup();
    }
  });

  it('refuses a malformed line when the vassal starts', () => {
    const { host } = recordingHost('bad.ini', '/sys/fs/cgroup/memory/x');
    assert.throws(() => new MemoryTrigger(['mem lots'], host), { code: 'EMP_ERR_CONFIG_INVALID', key: 'alarm-memory' });
    assert.throws(() => new EventfdTrigger(['mem only-two'], host), { code: 'EMP_ERR_CONFIG_INVALID', key: 'alarm-eventfd' });
  });
});

describe('cgroup-eventfd triggers where the interface is missing', { skip: noV2 }, () => {
  it('a cgroup without the memory controller (v2 here): alarm-memory, alarm-oom and alarm-eventfd say so once per vassal', async () => {
    const full = await testSettings();
    const { settings, cleanup } = await testSettings({ layout: { v1: [], v2: full.settings.layout.v2! } });
    const keeper = new CgroupKeeper(new MemoryLogger(), false);
    const plan = planCgroup('nomem', [], settings);
    try {
      await keeper.prepare('nomem.ini', plan);
      const { host, raised, log, stop } = recordingHost(`nomem-${Date.now()}.ini`, plan.path);
      // cgroup.event_control is missing, the subject exists: this is what a v2 hierarchy looks like.
      const line = `mem ${plan.path}/cgroup.event_control ${plan.path}/cgroup.procs`;
      for (let round = 0; round < 2; round++) {
        const triggers = [new MemoryTrigger(['mem 1M'], host).start(), new OomTrigger(['oom'], host).start(), new EventfdTrigger([line], host).start()];
        await Promise.all(triggers.map((t) => t.ready()));
        await Promise.all(triggers.map((t) => t.close()));
      }
      stop();
      const notices = log.records.filter((r) => r.event === 'trigger-unavailable').map((r) => r.msg);
      assert.equal(notices.length, 3, notices.join('\n'));
      assert.ok(notices.some((m) => /alarm-memory is unavailable: the cgroup .* has no memory controller/.test(m)));
      assert.ok(notices.some((m) => /alarm-oom is unavailable: the cgroup .* has no memory controller/.test(m)));
      assert.ok(notices.some((m) => /alarm-eventfd mem is unavailable: .*cgroup\.event_control does not exist \(cgroup v2 has no cgroup\.event_control; use alarm-memory = ALARM BYTES and alarm-oom = ALARM/.test(m)));
      assert.deepEqual(raised, []);
    } finally {
      await keeper.release('nomem.ini', { signal: 'SIGTERM', deadline: Date.now() });
      await cleanup();
      await full.cleanup();
    }
  });
});
