import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadVassalConfig } from '../../src/config/load.js';
import { planVassal, type VassalPlan } from '../../src/core/plan.js';
import { Isolation } from '../../src/isolation/isolation.js';
import { MemoryLogger } from '../../src/log/logger.js';
import type { VassalSpec } from '../../src/monitors/types.js';
import { noCgroups, testSettings } from './cgroups.js';

const hybrid = {
  v1: [{ version: 1 as const, mount: '/sys/fs/cgroup/memory', controllers: ['memory'] }],
  v2: { version: 2 as const, mount: '/sys/fs/cgroup/unified', controllers: [] },
};

function spec(name: string, text: string): VassalSpec {
  return { name, source: '/etc/vassals', config: { text, format: 'ini', path: `/tmp/${name}` }, revision: '1' };
}

async function plan(iso: Isolation, s: VassalSpec): Promise<VassalPlan> {
  const loaded = loadVassalConfig(s.config, { name: s.name, hostname: 'h', env: {}, computed: iso.computed() });
  if (loaded.kind !== 'vassal') throw new Error('not a vassal');
  return planVassal(s, loaded.config, { env: { PATH: '/usr/bin:/bin' }, defaultCwd: '/tmp', isRoot: true, ...iso.planContext() });
}

describe('isolation for the emperor', () => {
  it('%(cgroup) is the absolute path, and a bad cgroup is reported where %(cgroup) is used', async () => {
    const iso = await Isolation.create({ tyrant: false, tyrantInitgroups: false, log: new MemoryLogger(), layout: hybrid });
    const p = await plan(iso, spec('a.ini', '[vassal]\ncommand = true\ncgroup = app-%n\nenv = CG=%(cgroup)\n'));
    assert.equal(p.worker.env.CG, '/sys/fs/cgroup/memory/emperor/app-a');
    assert.deepEqual(p.worker.cgroupProcs, ['/sys/fs/cgroup/memory/emperor/app-a/cgroup.procs', '/sys/fs/cgroup/unified/emperor/app-a/cgroup.procs']);
    await assert.rejects(plan(iso, spec('b.ini', '[vassal]\ncommand = true\ncgroup = /srv/b\nenv = CG=%(cgroup)\n')), {
      code: 'EMP_ERR_CONFIG_INVALID',
      line: 4,
      message: /%\(cgroup\): cgroup: '\/srv\/b' is not under a cgroup mount/,
    });
    await assert.rejects(plan(iso, spec('c.ini', '[vassal]\ncommand = true\ncgroup = /srv/c\n')), { code: 'EMP_ERR_CONFIG_INVALID', key: 'cgroup', line: 3, file: '/tmp/c.ini' });
  });

  it('refuses memory alarms and cgroup options without a cgroup', async () => {
    const iso = await Isolation.create({ tyrant: false, tyrantInitgroups: false, log: new MemoryLogger(), layout: hybrid });
    await assert.rejects(plan(iso, spec('m.ini', '[vassal]\ncommand = true\nalarm = mem log:x\nalarm-memory = mem 10M\n')), { key: 'alarm-memory', line: 4, message: /^alarm-memory: .*cgroup = NAME/ });
    await assert.rejects(plan(iso, spec('o.ini', '[vassal]\ncommand = true\nalarm = oom log:x\nalarm-oom = oom\n')), { key: 'alarm-oom' });
    await assert.rejects(plan(iso, spec('x.ini', '[vassal]\ncommand = true\ncgroup-opt = memory.limit_in_bytes=1\n')), { key: 'cgroup-opt', message: /^cgroup-opt: .*cgroup = NAME/ });
  });

  it('outside tyrant mode logto stays a path and file: probes keep the plain check', async () => {
    const iso = await Isolation.create({ tyrant: false, tyrantInitgroups: false, log: new MemoryLogger(), layout: hybrid });
    const p = await plan(iso, spec('l.ini', '[vassal]\ncommand = true\nlogto = /tmp/l.log\n'));
    const v = iso.forVassal('l.ini');
    assert.equal(await v.logTarget(p), '/tmp/l.log');
    assert.equal(v.probeAccess(p), undefined);
    assert.equal(iso.stopsOnChange({ uid: 1, gid: 1 }, { uid: 2, gid: 2 }), false);
  });

  it('names the line of the cgroup-opt that cannot be written', { skip: noCgroups }, async () => {
    const { settings, cleanup } = await testSettings();
    const iso = await Isolation.create({ tyrant: false, tyrantInitgroups: false, log: new MemoryLogger(), cgroupRoot: settings.root });
    try {
      const first = await plan(iso, spec('ok.ini', '[vassal]\ncommand = true\ncgroup = ok\n'));
      await iso.forVassal('ok.ini').prepare(first);
      await assert.rejects(plan(iso, spec('v2.ini', '[vassal]\ncommand = true\ncgroup = v2\ncgroup-opt = memory.limit_in_bytes=100M\ncgroup-opt = memory.max=100M\n')), {
        code: 'EMP_ERR_CONFIG_INVALID',
        key: 'cgroup-opt',
        line: 5,
        message: /^cgroup-opt memory\.max=100M: cannot write .*: no such file in this cgroup v1 hierarchy \(its counterpart there may be memory\.limit_in_bytes\)$/,
      });
      await iso.forVassal('ok.ini').release(first, Date.now());
    } finally {
      await cleanup();
    }
  });

  it('refuses, at plan time, a cgroup another running vassal holds', { skip: noCgroups }, async () => {
    const { settings, cleanup } = await testSettings();
    const iso = await Isolation.create({ tyrant: false, tyrantInitgroups: false, log: new MemoryLogger(), cgroupRoot: settings.root });
    try {
      const a = await plan(iso, spec('a.ini', '[vassal]\ncommand = true\ncgroup = shared\n'));
      await iso.forVassal('a.ini').prepare(a);
      assert.equal(iso.cgroupHolder(`${settings.root}/shared`), 'a.ini');
      await assert.rejects(plan(iso, spec('b.ini', '[vassal]\ncommand = true\ncgroup = shared\n')), { key: 'cgroup', line: 3, message: /is already the cgroup of vassal 'a\.ini'/ });
      // The holder itself may reload into it.
      await plan(iso, spec('a.ini', '[vassal]\ncommand = true\ncgroup = shared\n'));
      await iso.forVassal('a.ini').release(a, Date.now());
      await plan(iso, spec('b.ini', '[vassal]\ncommand = true\ncgroup = shared\n'));
    } finally {
      await cleanup();
    }
  });
});
