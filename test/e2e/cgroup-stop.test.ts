/**
 * Stopping a vassal empties its cgroup: whatever got away from the workers' process group is
 * signalled, killed at the stop deadline, and the cgroup is removed, through the real `emperor`.
 *
 * A root emperor also gives every worker a pid namespace, so a daemon a worker starts with setsid
 * dies with the namespace before the cgroup is looked at. What the cgroup kill alone catches is
 * shown twice: with a member that joined the cgroup from outside (neither in the workers' group
 * nor in their namespace), and with an emperor that is not root (no pid namespace) running in a
 * cgroup subtree delegated to its user, where the daemons a worker starts really escape its group.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmperorProcess, FIXTURES, type Record_ } from '../helpers/emperor-process.js';
import { writeVassal } from '../helpers/vassal-files.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';
import { createUser, type TestUser } from '../isolation/users.js';
import { cgroupDirs, MEMORY_MOUNT, noRootCgroups, procsOf, removeCgroupTree, removeUsers, unique, UNIFIED_MOUNT } from './helpers.js';

const escape = join(FIXTURES, 'e2e-escape.sh');

async function statOf(pid: number): Promise<{ comm: string; pgid: number; sid: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), pgid: Number(f[2]), sid: Number(f[3]) };
}

async function readPid(file: string): Promise<number> {
  return waitFor(async () => Number((await readFile(file, 'utf8').catch(() => '')).trim()) || undefined, { what: file });
}

function daemonsVassal(cgroup: string, pidDir: string, stopTimeout: number): string {
  return `[vassal]\ncommand = /bin/sh ${escape}\ncgroup = ${cgroup}\nenv = PIDDIR=${pidDir}\nstop-timeout = ${stopTimeout}\nready = alive:200\n`;
}

function forVassal(records: readonly Record_[], vassal: string, event: string): Record_[] {
  return records.filter((r) => r.vassal === vassal && r.event === event);
}

describe('a root emperor stops a vassal and empties its cgroup', { skip: noRootCgroups }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let emp: EmperorProcess;
  const names: string[] = [];
  const strays: number[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('emperor-e2e-stop-'));
    emp = new EmperorProcess([dir, '--no-control']);
    await emp.event(undefined, 'start');
  });

  after(async () => {
    await emp.stop();
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    for (const n of names) await removeCgroupTree(`emperor/${n}`);
    await cleanup();
  });

  test('daemons a worker starts with setsid leave its process group and die with its pid namespace; the cgroup is removed', { timeout: 60_000 }, async () => {
    const cgroup = unique('e2e-setsid');
    names.push(cgroup);
    const pidDir = join(dir, 'setsid');
    await mkdir(pidDir);
    await writeVassal(dir, 'daemons.ini', daemonsVassal(cgroup, pidDir, 2));
    const ready = await emp.event('daemons.ini', 'ready', 30_000);
    await emp.line('daemons.ini', /started its daemons$/);
    const helper = (ready.pids as number[])[0]!;
    const path = `${MEMORY_MOUNT}/emperor/${cgroup}`;
    // Host pids of the daemons: the sleeps in the cgroup, in sessions of their own.
    const members = await procsOf(path);
    const daemons: number[] = [];
    for (const pid of members) {
      const s = await statOf(pid);
      if (s?.comm === 'sleep') {
        assert.notEqual(s.pgid, helper, `daemon ${pid} left the worker's process group`);
        assert.equal(s.sid, pid, `daemon ${pid} leads a session of its own`);
        daemons.push(pid);
      }
    }
    assert.equal(daemons.length, 2, `both daemons are in the cgroup: ${members.join(' ')}`);

    const stopped = emp.nextEvent('daemons.ini', 'stopped', 30_000);
    await unlink(join(dir, 'daemons.ini'));
    await stopped;
    for (const pid of daemons) assert.equal(await isAlive(pid), false, `daemon ${pid} is gone`);
    assert.deepEqual(forVassal(emp.records, 'daemons.ini', 'cgroup-stop'), [], 'the pid namespace took the daemons: nothing was left for the cgroup kill');
    for (const d of cgroupDirs(`emperor/${cgroup}`)) assert.equal(existsSync(d), false, `${d} is removed`);
  });

  test('a member from outside the workers\' group and namespace gets the stop signal, SIGKILL at stop-timeout, and the cgroup is removed', { timeout: 60_000 }, async () => {
    const cgroup = unique('e2e-joined');
    names.push(cgroup);
    const pidDir = join(dir, 'joined');
    await mkdir(pidDir);
    await writeVassal(dir, 'joined.ini', daemonsVassal(cgroup, pidDir, 1));
    await emp.event('joined.ini', 'ready', 30_000);
    await emp.line('joined.ini', /started its daemons$/);
    // A process of the host, deaf to SIGTERM, moved into the vassal's cgroup in every hierarchy.
    const stray = spawn('/bin/sh', ['-c', 'trap "" TERM; exec sleep 1000'], { detached: true, stdio: 'ignore' });
    const pid = stray.pid!;
    strays.push(pid);
    stray.unref();
    await waitFor(async () => (await statOf(pid))?.comm === 'sleep', { what: 'the stray to exec sleep' });
    for (const d of cgroupDirs(`emperor/${cgroup}`)) await writeFile(`${d}/cgroup.procs`, String(pid));
    assert.ok((await procsOf(`${MEMORY_MOUNT}/emperor/${cgroup}`)).includes(pid));

    const began = Date.now();
    const stopped = emp.nextEvent('joined.ini', 'stopped', 30_000);
    await unlink(join(dir, 'joined.ini'));
    await stopped;
    const took = Date.now() - began;
    const [term] = forVassal(emp.records, 'joined.ini', 'cgroup-stop');
    const [kill] = forVassal(emp.records, 'joined.ini', 'cgroup-kill');
    assert.ok(term, 'the stop signal went to what was left in the cgroup');
    assert.deepEqual(term.pids, [pid]);
    assert.match(String(term.msg), new RegExp(`1 process outside the workers' process groups still in cgroup ${MEMORY_MOUNT}/emperor/${cgroup} \\(${pid}\\): sending SIGTERM`));
    assert.ok(kill, 'it ignored SIGTERM, so it was killed at the deadline');
    assert.deepEqual(kill.pids, [pid]);
    assert.ok(emp.records.indexOf(term) < emp.records.indexOf(kill));
    assert.ok(took >= 900, `SIGKILL waited for stop-timeout (1 s): the stop took ${took} ms`);
    assert.equal(await isAlive(pid), false, 'the stray is dead');
    for (const d of cgroupDirs(`emperor/${cgroup}`)) assert.equal(existsSync(d), false, `${d} is removed`);
  });
});

describe('an emperor that is not root, in a cgroup subtree delegated to its user', { skip: noRootCgroups || (existsSync(`${UNIFIED_MOUNT}/cgroup.procs`) ? false : 'the delegation below moves the emperor in the v2 hierarchy') }, () => {
  let user: TestUser;
  let dir: string;
  let cleanup: () => Promise<void>;
  let emp: EmperorProcess | undefined;
  const root = unique('e2e-deleg');

  before(async () => {
    user = await createUser();
    ({ dir, cleanup } = await tempDir('emperor-e2e-deleg-'));
    await chmod(dir, 0o755);
    // The delegation: the subtree and its files belong to the user, in both hierarchies.
    for (const d of cgroupDirs(root)) {
      await mkdir(d);
      await chown(d, user.uid, user.gid);
      for (const f of await readdir(d)) await chown(join(d, f), user.uid, user.gid);
    }
  });

  after(async () => {
    await emp?.stop();
    await removeUsers([user]);
    await removeCgroupTree(root);
    await cleanup();
  });

  test('daemons that left the process group survive its kill, get the stop signal from the cgroup, and SIGKILL at the deadline', { timeout: 90_000 }, async () => {
    const vassals = join(dir, 'vassals');
    const pidDir = join(dir, 'pids');
    await mkdir(vassals, { mode: 0o755 });
    await mkdir(pidDir);
    await chown(pidDir, user.uid, user.gid);
    // Root moves it into its delegated v2 cgroup first (v2 lets a user move a process only between
    // cgroups below one it may write), then it runs as the user: what a service manager does for a
    // service with a delegated subtree.
    emp = new EmperorProcess(['--no-control', '--cgroup-root', root, vassals], {
      wrapper: ['/bin/sh', '-c', 'cg=$1 u=$2 g=$3; shift 3; echo $$ > "$cg/cgroup.procs" && exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"', 'sh', `${UNIFIED_MOUNT}/${root}`, String(user.uid), String(user.gid)],
    });
    await emp.event(undefined, 'start', 30_000);
    await writeVassal(vassals, 'daemons.ini', daemonsVassal('app', pidDir, 2));
    const ready = await emp.event('daemons.ini', 'ready', 30_000);
    await emp.line('daemons.ini', /started its daemons$/);
    const worker = (ready.pids as number[])[0]!;
    const ignorer = await readPid(join(pidDir, 'ignore-term'));
    const honourer = await readPid(join(pidDir, 'honour-term'));
    const path = `${MEMORY_MOUNT}/${root}/app`;
    for (const pid of [ignorer, honourer]) {
      const s = await statOf(pid);
      assert.equal(s?.comm, 'sleep');
      assert.notEqual(s?.pgid, worker, `daemon ${pid} left the worker's process group`);
      for (const d of cgroupDirs(`${root}/app`)) assert.ok((await procsOf(d)).includes(pid), `daemon ${pid} is in ${d}`);
    }
    const uid = (await readFile(`/proc/${worker}/status`, 'utf8')).split('\n').find((l) => l.startsWith('Uid:'));
    assert.match(uid ?? '', new RegExp(`^Uid:\\s+${user.uid}\\s`), 'the worker runs as the emperor\'s user');

    const stopped = emp.event('daemons.ini', 'stopped', 30_000);
    await unlink(join(vassals, 'daemons.ini'));
    await stopped;
    const [term] = forVassal(emp.records, 'daemons.ini', 'cgroup-stop');
    const [kill] = forVassal(emp.records, 'daemons.ini', 'cgroup-kill');
    assert.ok(term, `the daemons outlived the kill of the worker's group: ${emp.raw.slice(-10).join('\n')}`);
    assert.deepEqual([...(term.pids as number[])].sort(), [ignorer, honourer].sort());
    assert.match(String(term.msg), new RegExp(`^2 processes outside the workers' process groups still in cgroup ${path} \\(.*\\): sending SIGTERM$`));
    assert.ok(kill, 'the one deaf to SIGTERM was killed at the deadline');
    assert.deepEqual(kill.pids, [ignorer], 'the other one ended on the stop signal');
    assert.equal(await isAlive(ignorer), false);
    assert.equal(await isAlive(honourer), false);
    for (const d of cgroupDirs(`${root}/app`)) assert.equal(existsSync(d), false, `${d} is removed`);
  });

  test('the emperor stopping (SIGTERM) empties and removes every vassal\'s cgroup, daemons included', { timeout: 90_000 }, async () => {
    assert.ok(emp, 'the emperor of the previous test runs');
    const vassals = join(dir, 'vassals');
    const pidDir = join(dir, 'pids-last');
    await mkdir(pidDir);
    await chown(pidDir, user.uid, user.gid);
    await writeVassal(vassals, 'last.ini', daemonsVassal('last', pidDir, 1));
    await emp.event('last.ini', 'ready', 30_000);
    await emp.line('last.ini', /started its daemons$/);
    const daemons = [await readPid(join(pidDir, 'ignore-term')), await readPid(join(pidDir, 'honour-term'))];
    const { code } = await emp.stop();
    assert.equal(code, 0);
    assert.deepEqual([...(forVassal(emp.records, 'last.ini', 'cgroup-stop')[0]?.pids as number[])].sort(), [...daemons].sort());
    for (const pid of daemons) assert.equal(await isAlive(pid), false, `daemon ${pid} is gone`);
    for (const d of cgroupDirs(`${root}/last`)) assert.equal(existsSync(d), false, `${d} is removed`);
  });
});
