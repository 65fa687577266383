/**
 * The cgroup v2 side of alarm-memory and alarm-oom. This host's v2 hierarchy carries no memory
 * controller, so the kernel's memory.events and memory.current cannot be produced here: the
 * triggers' v2 path is run against a directory holding files of the same names and formats,
 * written the way the kernel updates them, and the kernel mechanism they rely on (inotify reporting
 * a cgroupfs file that the kernel changes) is checked on a real v2 file, cgroup.events.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Hysteresis } from '../../../plugins/cgroup-eventfd/hysteresis.js';
import { MemoryTrigger } from '../../../plugins/cgroup-eventfd/memory-trigger.js';
import { OomCounter, OomTrigger } from '../../../plugins/cgroup-eventfd/oom-trigger.js';
import { onFileChange } from '../../../plugins/cgroup-eventfd/wakeups.js';
import { tempDir, waitFor } from '../../helpers/wait.js';
import { noV2, uniqueRoot } from '../../isolation/cgroups.js';
import { recordingHost } from './host.js';

const MB = 1024 * 1024;

function events(oom: number, kill: number): string {
  return `low 0\nhigh 0\nmax ${oom * 3}\noom ${oom}\noom_kill ${kill}\noom_group_kill 0\n`;
}

describe('hysteresis', () => {
  it('fires on the way up only, and again only after falling below 90 %', () => {
    const h = new Hysteresis(100);
    const fired = [50, 99, 100, 150, 95, 101, 99, 91, 120, 89, 95, 100, 100].map((u) => h.update(u));
    assert.deepEqual(fired, [false, false, true, false, false, false, false, false, false, false, false, true, false]);
    assert.equal(h.rearmAt, 90);
  });

  it('fires at once when usage is already above as watching starts', () => {
    const h = new Hysteresis(100);
    assert.equal(h.update(200), true);
    assert.equal(h.update(200), false);
  });
});

describe('OOM counting from memory.events', () => {
  it('one OOM seen in one reading or two fires once; a kill caused higher up fires too', () => {
    const c = new OomCounter();
    assert.equal(c.update({ oom: 2, oom_kill: 2 }), 0, 'the first reading is the baseline');
    assert.equal(c.update({ oom: 3, oom_kill: 3 }), 1);
    assert.equal(c.update({ oom: 4, oom_kill: 3 }), 1, 'the oom line moves first');
    assert.equal(c.update({ oom: 4, oom_kill: 4 }), 0, 'then its kill, already fired');
    assert.equal(c.update({ oom: 4, oom_kill: 5 }), 1, 'a kill without an oom here: a parent hit its limit');
    assert.equal(c.update({ oom: 4, oom_kill: 5 }), 0);
    assert.equal(c.update({}), 0, 'an empty reading changes nothing');
    assert.equal(c.update({ oom: 4, oom_kill: 5 }), 0);
  });
});

describe('cgroup v2 path of the triggers (files shaped like the kernel\'s)', () => {
  it('alarm-oom fires when memory.events changes with a new oom; alarm-memory samples memory.current', async () => {
    const { dir, cleanup } = await tempDir();
    const { host, raised, stop } = recordingHost('v2.ini', dir);
    try {
      await writeFile(join(dir, 'memory.current'), `${5 * MB}\n`);
      await writeFile(join(dir, 'memory.max'), `${64 * MB}\n`);
      await writeFile(join(dir, 'memory.events'), events(1, 1));
      const oom = new OomTrigger(['oom'], host).start();
      const mem = new MemoryTrigger(['mem 10M'], host).start();
      await Promise.all([oom.ready(), mem.ready()]);

      await writeFile(join(dir, 'memory.current'), `${12 * MB}\n`);
      await writeFile(join(dir, 'memory.events'), events(2, 1));
      await waitFor(() => raised.some((r) => r.alarms[0] === 'oom'), { what: 'the OOM alarm from memory.events' });
      // The memory.events change makes alarm-memory read memory.current at once (no waiting for the sample).
      await waitFor(() => raised.some((r) => r.alarms[0] === 'mem'), { timeoutMs: 800, what: 'the memory alarm' });
      await writeFile(join(dir, 'memory.events'), events(2, 2));
      await writeFile(join(dir, 'memory.current'), `${9.5 * MB}\n`);
      await writeFile(join(dir, 'memory.current'), `${11 * MB}\n`);
      // Two sampling periods: hovering between 90 % and the threshold, nothing new fires.
      let ticks = 0;
      await waitFor(() => ++ticks > 110, { intervalMs: 20 });
      assert.deepEqual(raised.map((r) => [r.alarms[0], r.message]).sort(), [
        ['mem', `memory usage of cgroup ${dir} reached 12 MiB, above the alarm-memory threshold of 10 MiB`],
        ['oom', `out of memory in cgroup ${dir} (limit 64 MiB)`],
      ]);
      await writeFile(join(dir, 'memory.current'), `${8 * MB}\n`);
      await waitFor(async () => (await readFile(join(dir, 'memory.current'), 'utf8')) === `${8 * MB}\n`);
      let more = 0;
      await waitFor(() => ++more > 60, { intervalMs: 20 });
      await writeFile(join(dir, 'memory.current'), `${20 * MB}\n`);
      await waitFor(() => raised.filter((r) => r.alarms[0] === 'mem').length === 2, { what: 'the memory alarm after re-arming' });
      await Promise.all([oom.close(), mem.close()]);
    } finally {
      stop();
      await cleanup();
    }
  });

  it('inotify reports a cgroup v2 file the kernel changes (cgroup.events here, memory.events on hosts with the controller)', { skip: noV2 }, async () => {
    const dir = `/sys/fs/cgroup/unified/${uniqueRoot()}`;
    await mkdir(dir);
    const ac = new AbortController();
    const seen: string[] = [];
    try {
      onFileChange(join(dir, 'cgroup.events'), () => {
        void readFile(join(dir, 'cgroup.events'), 'utf8').then((t) => seen.push(t.split('\n')[0]!));
      }, (err) => seen.push(`error ${err.message}`), ac.signal);
      const child = spawn('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec sleep 0.2`], { stdio: 'ignore' });
      await new Promise((r) => child.once('exit', r));
      await waitFor(() => seen.includes('populated 0') && seen.includes('populated 1'), { what: 'populated 1 then 0' });
    } finally {
      ac.abort();
      await waitFor(async () => { await rmdir(dir); return true; }, { what: `removal of ${dir}` });
    }
  });
});
