import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { detectCgroupLayout, hierarchyOf, parseMountinfo, parseProcCgroups, primaryHierarchy, type CgroupLayout } from '../../src/isolation/cgroup-layout.js';
import { normalizeCgroupRoot, resolveCgroupPath, type CgroupSettings } from '../../src/isolation/cgroup-path.js';
import { cgroupProcsFiles, planCgroup } from '../../src/isolation/cgroup-plan.js';

const PROC_CGROUPS = `#subsys_name	hierarchy	num_cgroups	enabled
cpuset	3	1	1
cpu	1	1	1
cpuacct	2	1	1
memory	4	64	1
freezer	6	1	1
net_cls	0	1	0
pids	8	1	1
`;

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
99 31 0:32 / /mnt/memory\\040copy rw,relatime - cgroup cgroup rw,memory
`;

const hybrid: CgroupLayout = {
  v1: parseMountinfo(HYBRID, parseProcCgroups(PROC_CGROUPS)).v1,
  v2: { version: 2, mount: '/sys/fs/cgroup/unified', controllers: [] },
};
const v2only: CgroupLayout = { v1: [], v2: { version: 2, mount: '/sys/fs/cgroup', controllers: ['cpu', 'memory', 'pids'] } };
const settings = (layout: CgroupLayout, confine = false, root = 'emperor'): CgroupSettings => ({ layout, root, confine });

describe('cgroup layout', () => {
  it('reads v1 controllers from mount options known to /proc/cgroups, the v2 mount, and skips named and repeated hierarchies', () => {
    const parsed = parseMountinfo(HYBRID, parseProcCgroups(PROC_CGROUPS));
    assert.deepEqual(parsed.v1.map((h) => [h.mount, h.controllers]), [
      ['/sys/fs/cgroup/cpu', ['cpu']],
      ['/sys/fs/cgroup/cpuset', ['cpuset']],
      ['/sys/fs/cgroup/memory', ['memory']],
      ['/sys/fs/cgroup/freezer', ['freezer']],
      ['/sys/fs/cgroup/pids', ['pids']],
    ]);
    assert.equal(parsed.v2Mount, '/sys/fs/cgroup/unified');
    assert.equal(hierarchyOf(hybrid, 'memory')?.mount, '/sys/fs/cgroup/memory');
    assert.equal(hierarchyOf(hybrid, 'io'), undefined);
    assert.equal(primaryHierarchy(v2only)?.mount, '/sys/fs/cgroup');
  });

  it('detects this host: what the kernel reports is what the layout says', async () => {
    const layout = await detectCgroupLayout();
    const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    for (const h of layout.v1) {
      assert.ok(mountinfo.includes(` ${h.mount} `), `${h.mount} is a mount`);
      assert.ok(existsSync(`${h.mount}/cgroup.procs`));
    }
    if (existsSync('/sys/fs/cgroup/memory/memory.usage_in_bytes')) {
      assert.equal(primaryHierarchy(layout)?.mount, '/sys/fs/cgroup/memory');
      assert.equal(primaryHierarchy(layout)?.version, 1);
    }
    if (layout.v2) {
      const controllers = readFileSync(`${layout.v2.mount}/cgroup.controllers`, 'utf8').split(/\s+/).filter(Boolean);
      assert.deepEqual(layout.v2.controllers, controllers);
    }
  });
});

describe('cgroup paths', () => {
  it('puts a relative name under the cgroup root, in the memory hierarchy for %(cgroup)', () => {
    assert.deepEqual(resolveCgroupPath('app-shop', settings(hybrid)), { relative: 'emperor/app-shop', path: '/sys/fs/cgroup/memory/emperor/app-shop', managed: true });
    assert.deepEqual(resolveCgroupPath('./team//app/', settings(hybrid)), { relative: 'emperor/team/app', path: '/sys/fs/cgroup/memory/emperor/team/app', managed: true });
    assert.equal(resolveCgroupPath('app', settings(v2only)).path, '/sys/fs/cgroup/emperor/app');
  });

  it('takes an absolute path under any mount relative to that mount', () => {
    assert.deepEqual(resolveCgroupPath('/sys/fs/cgroup/memory/foobar', settings(hybrid)), { relative: 'foobar', path: '/sys/fs/cgroup/memory/foobar', managed: false });
    assert.deepEqual(resolveCgroupPath('/sys/fs/cgroup/unified/emperor/x', settings(hybrid)), { relative: 'emperor/x', path: '/sys/fs/cgroup/memory/emperor/x', managed: true });
  });

  it('refuses paths outside the mounts, root cgroups and ..', () => {
    assert.throws(() => resolveCgroupPath('/srv/foo', settings(hybrid)), { code: 'EMP_ERR_CONFIG_INVALID', message: /cgroup: '\/srv\/foo' is not under a cgroup mount/ });
    assert.throws(() => resolveCgroupPath('/sys/fs/cgroup/memory', settings(hybrid)), { code: 'EMP_ERR_PERMISSION', message: /root cgroup/ });
    assert.throws(() => resolveCgroupPath('/sys/fs/cgroup/memory/', settings(hybrid)), { code: 'EMP_ERR_PERMISSION' });
    assert.throws(() => resolveCgroupPath('a/../../x', settings(hybrid)), { code: 'EMP_ERR_PERMISSION', message: /'\.\.' is not allowed/ });
    assert.throws(() => resolveCgroupPath('x', settings({ v1: [] })), { message: /no cgroup hierarchy is mounted/ });
  });

  it('confines tyrant vassals under the cgroup root', () => {
    assert.equal(resolveCgroupPath('app', settings(hybrid, true)).relative, 'emperor/app');
    assert.equal(resolveCgroupPath('/sys/fs/cgroup/memory/emperor/app', settings(hybrid, true)).relative, 'emperor/app');
    assert.throws(() => resolveCgroupPath('/sys/fs/cgroup/memory/system.slice', settings(hybrid, true)), { code: 'EMP_ERR_PERMISSION', message: /under the cgroup root 'emperor'/ });
    assert.throws(() => resolveCgroupPath('/sys/fs/cgroup/memory/emperor', settings(hybrid, true)), { code: 'EMP_ERR_PERMISSION' });
    assert.throws(() => resolveCgroupPath('/sys/fs/cgroup/memory/emperorx/a', settings(hybrid, true)), { code: 'EMP_ERR_PERMISSION' });
  });

  it('normalizes --cgroup-root', () => {
    assert.equal(normalizeCgroupRoot('/emperor/'), 'emperor');
    assert.equal(normalizeCgroupRoot('system.slice/emperor'), 'system.slice/emperor');
    assert.equal(normalizeCgroupRoot('/'), '');
    assert.throws(() => normalizeCgroupRoot('/sys/fs/cgroup/memory/emperor'), { code: 'EMP_ERR_USAGE', message: /relative to each cgroup mount/ });
    assert.throws(() => normalizeCgroupRoot('../x'), { code: 'EMP_ERR_PERMISSION' });
  });
});

describe('cgroup plans', () => {
  it('hybrid host: the memory hierarchy, the ones cgroup-opt names, and the v2 one for membership and cgroup.kill', () => {
    const plan = planCgroup('app', [{ file: 'memory.limit_in_bytes', value: '100M' }, { file: 'pids.max', value: '64' }], settings(hybrid));
    assert.deepEqual(plan.dirs.map((d) => [d.version, d.path]), [
      [1, '/sys/fs/cgroup/memory/emperor/app'],
      [1, '/sys/fs/cgroup/pids/emperor/app'],
      [2, '/sys/fs/cgroup/unified/emperor/app'],
    ]);
    assert.deepEqual(plan.opts, [
      { file: 'memory.limit_in_bytes', value: '100M', dir: '/sys/fs/cgroup/memory/emperor/app' },
      { file: 'pids.max', value: '64', dir: '/sys/fs/cgroup/pids/emperor/app' },
    ]);
    assert.deepEqual(cgroupProcsFiles(plan), plan.dirs.map((d) => `${d.path}/cgroup.procs`));
  });

  it('v2 host: one directory, with the controllers to enable for it', () => {
    const plan = planCgroup('app', [{ file: 'memory.max', value: '100M' }, { file: 'pids.max', value: '64' }], settings(v2only));
    assert.deepEqual(plan.dirs, [{ version: 2, mount: '/sys/fs/cgroup', path: '/sys/fs/cgroup/emperor/app', controllers: ['memory', 'pids'] }]);
  });

  it('refuses the files the emperor owns and controllers the host lacks', () => {
    for (const file of ['cgroup.procs', 'cgroup.kill', 'tasks', 'release_agent', 'notify_on_release', 'cgroup.subtree_control']) {
      assert.throws(() => planCgroup('app', [{ file, value: '1' }], settings(hybrid)), { code: 'EMP_ERR_CONFIG_INVALID', message: /cgroup-opt: expected a controller's file/ }, file);
    }
    assert.throws(() => planCgroup('app', [{ file: 'io.max', value: '1' }], settings(hybrid)), { message: /needs the io controller, which is not available here/ });
  });
});
