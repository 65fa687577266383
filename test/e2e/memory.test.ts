/**
 * Memory limits and memory alarms through the real `emperor` command: a vassal's cgroup is made
 * under the cgroup root with its limit, %(cgroup) names it, the threshold alarm fires when usage
 * crosses, the OOM alarm when the kernel kills the worker, the vassal restarts the worker as a
 * crash, and the cgroup goes away with the vassal's file. Once with alarm-memory / alarm-oom,
 * once with the uwsgi-eventfd lines of the seed (alarm-eventfd) beside alarm-oom.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmperorProcess, FIXTURES, type Record_ } from '../helpers/emperor-process.js';
import { writeVassal } from '../helpers/vassal-files.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';
import { cgroupDirs, MEMORY_MOUNT, noRootCgroups, procsOf, removeCgroupTree, unique } from './helpers.js';

const alloc = join(FIXTURES, 'e2e-alloc.mjs');
const LIMIT = 62914560;
const THRESHOLD = 31457280;

/** Without swap the memory limit alone makes the kernel kill; with swap, memory+swap is capped too. */
async function swapLine(): Promise<string> {
  const swaps = await readFile('/proc/swaps', 'utf8').catch(() => '');
  const on = swaps.trim().split('\n').length > 1;
  return on && existsSync(`${MEMORY_MOUNT}/memory.memsw.limit_in_bytes`) ? `cgroup-opt = memory.memsw.limit_in_bytes=${LIMIT}\n` : '';
}

function alarmRecord(vassal: string, text: string) {
  return (r: Record_): boolean => r.vassal === vassal && typeof r.msg === 'string' && r.msg.includes(text);
}

describe('memory-limited vassals through the emperor command (real OOM)', { skip: noRootCgroups }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let emp: EmperorProcess;
  const names: string[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('emperor-e2e-mem-'));
    await chmod(dir, 0o755);
    emp = new EmperorProcess([dir, '--no-control', '--throttle', '1000']);
    await emp.event(undefined, 'start');
  });

  after(async () => {
    await emp.stop();
    for (const n of names) await removeCgroupTree(`emperor/${n}`);
    await cleanup();
  });

  /** Waits for the crash the kernel's kill causes, then for the restarted worker to be ready. */
  async function crashThenReady(vassal: string): Promise<Record_> {
    const crash = await emp.event(vassal, 'crash', 60_000);
    assert.equal(crash.signal, 'SIGKILL', `the kernel's OOM kill is SIGKILL: ${JSON.stringify(crash)}`);
    assert.match(String(crash.msg), /killed by SIGKILL/);
    const i = emp.records.indexOf(crash);
    await emp.waitFor((r) => emp.records.indexOf(r) > i && r.vassal === vassal && r.event === 'ready', `ready of ${vassal} after its crash`, 30_000);
    return crash;
  }

  /** The file goes, the vassal stops, its cgroup goes in every hierarchy. */
  async function removeAndCheck(vassal: string, cgroup: string, pids: readonly number[]): Promise<void> {
    const stopped = emp.nextEvent(vassal, 'stopped', 30_000);
    await unlink(join(dir, vassal));
    await stopped;
    for (const d of cgroupDirs(`emperor/${cgroup}`)) assert.equal(existsSync(d), false, `${d} is removed with the vassal`);
    for (const pid of pids) assert.equal(await isAlive(pid), false, `worker ${pid} is gone`);
  }

  test('alarm-memory and alarm-oom: threshold alarm (cmd:), OOM alarm (log:), crash by SIGKILL, restart, cgroup removed', { timeout: 120_000 }, async () => {
    const cgroup = unique('e2e-mem');
    names.push(cgroup);
    const path = `${MEMORY_MOUNT}/emperor/${cgroup}`;
    const memFile = join(dir, 'mem-alarm.txt');
    await writeVassal(dir, 'hungry.ini', `[vassal]
command = ${process.execPath} ${alloc}
cgroup = ${cgroup}
cgroup-opt = memory.limit_in_bytes=${LIMIT}
${await swapLine()}env = CG=%(cgroup)
env = ONCE_FILE=${join(dir, 'hungry.once')}
ready = alive:300
stop-timeout = 3
alarm = mem cmd:cat >> ${memFile}
alarm = oom log:oom
alarm-memory = mem ${THRESHOLD}
alarm-oom = oom
`);
    const first = await emp.event('hungry.ini', 'ready', 30_000);
    const pid = (first.pids as number[])[0]!;
    // While it runs: the directory exists with the limit, the worker is in it, %(cgroup) is its path.
    assert.equal(existsSync(path), true);
    for (const d of cgroupDirs(`emperor/${cgroup}`)) assert.equal(existsSync(d), true, `${d} exists while the vassal runs`);
    assert.equal(Number((await readFile(`${path}/memory.limit_in_bytes`, 'utf8')).trim()), LIMIT);
    await emp.line('hungry.ini', /^cgroup-self /);
    assert.deepEqual(emp.lines('hungry.ini').filter((l) => l.startsWith('cgroup-')), [`cgroup-env ${path}`, `cgroup-self /emperor/${cgroup}`]);

    const crash = await crashThenReady('hungry.ini');
    assert.equal(crash.pid, pid, 'the worker that grew is the one that was killed');
    assert.ok(emp.lines('hungry.ini').some((l) => /^allocated (3[5-9]|[4-9]\d) MB$/.test(l)), 'it grew step by step past the threshold before the kill');

    const oom = await emp.waitFor(alarmRecord('hungry.ini', 'ALARM: oom'), 'the OOM alarm', 30_000);
    assert.equal(oom.msg, `[emperor-alarm] ALARM: oom out of memory in cgroup ${path} (limit 60 MiB)`);
    assert.equal(oom.alarm, 'oom');
    const text = await waitFor(async () => (await readFile(memFile, 'utf8').catch(() => '')) || undefined, { what: 'the cmd: action of the memory alarm', timeoutMs: 30_000 });
    assert.match(text.trim(), new RegExp(`^memory usage of cgroup ${path} reached ([\\d.]+) MiB, above the alarm-memory threshold of 30 MiB$`));
    const reached = Number(/reached ([\d.]+) MiB/.exec(text)![1]);
    assert.ok(reached >= 30 && reached <= 60, `fired on the way up, between the threshold and the limit: ${reached} MiB`);
    assert.equal(text.trim().split('\n').length, 1, 'once: the hysteresis re-arms only below 90 % of the threshold');

    // The restarted worker stays small and in the same cgroup.
    await emp.line('hungry.ini', /^staying small$/);
    const again = await emp.waitFor((r) => r.vassal === 'hungry.ini' && r.event === 'ready' && (r.pids as number[])[0] !== pid, 'the restarted worker');
    const pid2 = (again.pids as number[])[0]!;
    assert.ok((await procsOf(path)).includes(pid2), `the restarted worker ${pid2} is in ${path}`);

    await removeAndCheck('hungry.ini', cgroup, [pid, pid2]);
  });

  test("the seed's alarm-eventfd lines (threshold and oom_control) and alarm-oom together", { timeout: 120_000 }, async () => {
    const cgroup = unique('e2e-seed');
    names.push(cgroup);
    const path = `${MEMORY_MOUNT}/emperor/${cgroup}`;
    const oomFile = join(dir, 'oom2-alarm.txt');
    await writeVassal(dir, 'seed.ini', `[vassal]
command = ${process.execPath} ${alloc}
cgroup = ${cgroup}
cgroup-opt = memory.limit_in_bytes=${LIMIT}
${await swapLine()}env = CG=%(cgroup)
env = ONCE_FILE=${join(dir, 'seed.once')}
ready = alive:300
stop-timeout = 3
alarm = mem log:memory-eventfd
alarm = oom log:oom-eventfd
alarm = oom2 cmd:cat >> ${oomFile}
alarm-eventfd = mem %(cgroup)/cgroup.event_control %(cgroup)/memory.usage_in_bytes ${THRESHOLD}
alarm-eventfd = oom %(cgroup)/cgroup.event_control %(cgroup)/memory.oom_control
alarm-oom = oom2
`);
    const first = await emp.event('seed.ini', 'ready', 30_000);
    const pid = (first.pids as number[])[0]!;
    assert.equal(existsSync(path), true);
    await emp.line('seed.ini', /^cgroup-env /);
    assert.ok(emp.lines('seed.ini').includes(`cgroup-env ${path}`), '%(cgroup) is the absolute path of the cgroup');

    await crashThenReady('seed.ini');
    const mem = await emp.waitFor(alarmRecord('seed.ini', 'ALARM: memory-eventfd'), 'the eventfd threshold alarm', 30_000);
    // An alarm-eventfd line without :MESSAGE raises its alarm with the alarm's name as the message.
    assert.equal(mem.msg, '[emperor-alarm] ALARM: memory-eventfd mem');
    const oom = await emp.waitFor(alarmRecord('seed.ini', 'ALARM: oom-eventfd'), 'the eventfd oom_control alarm', 30_000);
    assert.equal(oom.msg, '[emperor-alarm] ALARM: oom-eventfd oom');
    assert.ok(emp.records.indexOf(mem) < emp.records.indexOf(oom), 'the threshold is crossed before the kernel runs out of memory');
    const text = await waitFor(async () => (await readFile(oomFile, 'utf8').catch(() => '')) || undefined, { what: 'the cmd: action of alarm-oom', timeoutMs: 30_000 });
    assert.equal(text.trim().split('\n')[0], `out of memory in cgroup ${path} (limit 60 MiB)`);

    const again = await emp.waitFor((r) => r.vassal === 'seed.ini' && r.event === 'ready' && (r.pids as number[])[0] !== pid, 'the restarted worker');
    await removeAndCheck('seed.ini', cgroup, [pid, (again.pids as number[])[0]!]);
  });
});
