import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execHelperArgs, execHelperPath, type ExecHelperOptions } from '../../src/native/exec-helper.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const spawnParent = join(repo, 'test', 'fixtures', 'native-spawn-parent.ts');
const isRoot = process.getuid?.() === 0;
const memoryCgroups = '/sys/fs/cgroup/memory';
const needsRoot = isRoot ? false : 'needs root (credential changes, pid namespaces, cgroups)';

interface Exit { code: number | null; signal: NodeJS.Signals | null }
interface Run {
  child: ChildProcess;
  pid: number;
  lines: string[];
  /** Resolves with the first output line matching `re`. */
  line(re: RegExp, what?: string): Promise<string>;
  /** The process itself ended. */
  exited: Promise<Exit>;
  /** The process ended and every holder of its stdout pipe closed it. */
  closed: Promise<Exit>;
}

const started: number[] = [];
let cwd = '';
let removeCwd: () => Promise<void> = async () => {};

function run(file: string, argv: readonly string[], dir = cwd): Run {
  const child = spawn(file, argv, { detached: true, stdio: ['ignore', 'pipe', 'ignore'], cwd: dir });
  assert.ok(child.pid, `cannot spawn ${file}`);
  started.push(child.pid);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const closed = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return {
    child,
    pid: child.pid,
    lines,
    line: (re, what) => waitFor(() => lines.find((l) => re.test(l)), { what: what ?? `a line matching ${re} (got ${JSON.stringify(lines)})` }),
    exited,
    closed,
  };
}

function helper(): string {
  const path = execHelperPath();
  assert.ok(path, 'emperor-exec is not built: run `node src/native/build.mjs`');
  return path;
}

function viaHelper(opts: ExecHelperOptions, program: string, args: readonly string[]): Run {
  return run(helper(), execHelperArgs(opts, program, args));
}

/** A node process that spawns the worker through the helper, as the emperor does. */
function viaSpawningParent(opts: ExecHelperOptions, program: string, args: readonly string[]): Run {
  return run(process.execPath, ['--import', 'tsx', spawnParent, JSON.stringify(opts), program, ...args], repo);
}

async function statusField(pid: number, field: string): Promise<string> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  assert.ok(line !== undefined, `no ${field} in /proc/${pid}/status`);
  return line.slice(field.length + 1).trim().split(/\s+/).join(' ');
}

async function idOf(file: '/etc/passwd' | '/etc/group', name: string): Promise<number> {
  const entry = (await readFile(file, 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));
  assert.ok(entry, `no ${name} in ${file}`);
  return Number(entry.split(':')[2]);
}

/** Host pids of processes whose command line contains `token`. */
async function pidsWith(token: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(token)) found.push(Number(name));
  }
  return found;
}

/** The single child of `pid` (from /proc/PID/task/PID/children). */
async function childOf(pid: number): Promise<number> {
  return waitFor(async () => {
    const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim();
    return kids === '' ? undefined : Number(kids.split(' ')[0]);
  }, { what: `a child of ${pid}` });
}

async function makeCgroup(): Promise<string> {
  const dir = join(memoryCgroups, `emperor-test-exec-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(dir);
  return dir;
}

/** rmdir succeeds once the last member is gone (killed members take a moment to leave). */
async function removeCgroup(dir: string): Promise<void> {
  await waitFor(async () => {
    await rmdir(dir);
    return true;
  }, { what: `removal of ${dir}` });
}

let unique = 0;
/** A sleep duration no other process on the host uses, to find the process by its argv. */
function uniqueSleep(): string {
  unique += 1;
  return `1000.${process.pid}${unique}`;
}

before(async () => {
  ({ dir: cwd, cleanup: removeCwd } = await tempDir('emperor-exec-test-'));
});

after(async () => {
  for (const pid of started) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await removeCwd();
});

describe('emperor-exec', () => {
  for (const pidns of [false, true]) {
    const mode = pidns ? 'in its own pid namespace' : 'directly';
    const skip = pidns ? needsRoot : false;

    it(`passes the exit code through (${mode})`, { skip }, async () => {
      const r = viaHelper({ pidns }, 'sh', ['-c', 'exit 3']);
      assert.deepEqual(await r.closed, { code: 3, signal: null });
    });

    it(`passes death by a signal through (${mode})`, { skip }, async () => {
      const r = viaHelper({ pidns }, 'sh', ['-c', 'ulimit -c 0; kill -SEGV $$']);
      assert.deepEqual(await r.closed, { code: null, signal: 'SIGSEGV' });
    });

    it(`runs the program inside the cgroup (${mode})`, { skip: needsRoot || (!existsSync(memoryCgroups) && 'no cgroup v1 memory hierarchy') }, async () => {
      const cg = await makeCgroup();
      try {
        const r = viaHelper({ pidns, cgroupProcs: [join(cg, 'cgroup.procs')] }, 'sh', ['-c', 'grep memory /proc/self/cgroup; echo ready; exec sleep 1000']);
        await r.line(/^ready$/);
        assert.ok(r.lines.some((l) => l.endsWith(`:memory:/${basename(cg)}`)), `the program saw itself in ${JSON.stringify(r.lines)}`);
        const members = (await readFile(join(cg, 'cgroup.procs'), 'utf8')).trim().split('\n').map(Number);
        assert.ok(members.includes(r.pid), `helper pid ${r.pid} in ${JSON.stringify(members)}`);
        process.kill(-r.pid, 'SIGKILL');
        await r.exited;
      } finally {
        await removeCgroup(cg);
      }
    });
  }

  /** The helper with a socket on fd 3 for --hold-fd 3; the test holds the other end. */
  function held(opts: ExecHelperOptions, program: string, args: readonly string[]): Run & { hold: Writable } {
    const child = spawn(helper(), execHelperArgs({ ...opts, holdFd: 3 }, program, args), { detached: true, stdio: ['ignore', 'pipe', 'ignore', 'pipe'], cwd });
    assert.ok(child.pid, 'cannot spawn the helper');
    started.push(child.pid);
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    return {
      child,
      pid: child.pid,
      lines,
      line: (re, what) => waitFor(() => lines.find((l) => re.test(l)), { what: what ?? `a line matching ${re} (got ${JSON.stringify(lines)})` }),
      exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      closed: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
      hold: child.stdio[3] as Writable,
    };
  }

  for (const pidns of isRoot ? [false, true] : [false]) {
    const mode = pidns ? 'pid namespace' : 'direct';
    it(`--hold-fd: joins the cgroup, then waits for one byte before the program runs (${mode})`, { skip: needsRoot || (!existsSync(memoryCgroups) && 'no cgroup v1 memory hierarchy') }, async () => {
      const cg = await makeCgroup();
      try {
        const r = held({ pidns, mergeStderr: true, cgroupProcs: [join(cg, 'cgroup.procs')] }, 'sh', ['-c', 'echo "fd3 $(test -e /proc/self/fd/3 && echo open || echo closed)"; grep memory /proc/self/cgroup; exec sleep 1000']);
        const members = async (): Promise<number[]> => (await readFile(join(cg, 'cgroup.procs'), 'utf8')).trim().split('\n').filter(Boolean).map(Number);
        await waitFor(async () => (await members()).includes(r.pid), { what: `helper ${r.pid} in ${cg}` });
        // Joined and waiting: the process is still the helper, blocked in read(2), and has said nothing.
        await waitFor(async () => /^State:\s+S/m.test(await readFile(`/proc/${r.pid}/status`, 'utf8').catch(() => '')), { what: 'the helper asleep' });
        assert.match(await readFile(`/proc/${r.pid}/cmdline`, 'utf8'), /emperor-exec/);
        assert.equal(r.lines.length, 0, `nothing said before the go-ahead: ${JSON.stringify(r.lines)}`);
        r.hold.end(Buffer.from([1]));
        await r.line(/memory:/);
        assert.deepEqual(r.lines[0], 'fd3 closed', 'the hold descriptor does not reach the program');
        assert.ok(r.lines.some((l) => l.endsWith(`:memory:/${basename(cg)}`)), `the program saw itself in ${JSON.stringify(r.lines)}`);
        process.kill(-r.pid, 'SIGKILL');
        await r.exited;
      } finally {
        await removeCgroup(cg);
      }
    });
  }

  it('--hold-fd: ends quietly with 0 and never runs the program when the descriptor ends first', async () => {
    const r = held({ mergeStderr: true }, 'sh', ['-c', 'echo ran']);
    r.hold.end();
    assert.deepEqual(await r.closed, { code: 0, signal: null });
    assert.deepEqual(r.lines, []);
  });

  it('--hold-fd: refuses a descriptor that is not open', async () => {
    const r = run(helper(), ['--merge-stderr', '--hold-fd', '9', '--', 'true']);
    assert.deepEqual(await r.closed, { code: 126, signal: null });
    assert.deepEqual(r.lines, ['emperor-exec: --hold-fd 9: Bad file descriptor']);
  });

  it('merges stderr into stdout', async () => {
    const r = viaHelper({ mergeStderr: true }, 'sh', ['-c', 'echo out; echo err >&2']);
    assert.deepEqual(await r.closed, { code: 0, signal: null });
    assert.deepEqual(r.lines, ['out', 'err']);
  });

  it('exits 127 with the reason when the program cannot run', async () => {
    const r = viaHelper({ mergeStderr: true }, '/nonexistent/program', []);
    assert.deepEqual(await r.closed, { code: 127, signal: null });
    assert.deepEqual(r.lines, ['emperor-exec: cannot run /nonexistent/program: No such file or directory']);
  });

  it('exits 126 with the reason when setting up fails', async () => {
    const r = viaHelper({ mergeStderr: true, cgroupProcs: ['/nonexistent/cgroup.procs'] }, 'true', []);
    assert.deepEqual(await r.closed, { code: 126, signal: null });
    assert.deepEqual(r.lines, ['emperor-exec: cannot open /nonexistent/cgroup.procs: No such file or directory']);
  });

  it('does not run the program when its spawner is already gone', async () => {
    // The pid given as the spawner is not our parent: the case where the emperor died before the
    // helper could arm the parent-death signal.
    const r = viaHelper({ mergeStderr: true, parentPid: 1 }, 'sh', ['-c', 'echo ran']);
    assert.deepEqual(await r.closed, { code: 126, signal: null });
    assert.deepEqual(r.lines, ['emperor-exec: the spawning process 1 is gone']);
  });

  it('refuses a uid without a gid', () => {
    assert.throws(() => execHelperArgs({ uid: 65534 }, 'true', []), { code: 'EMP_ERR_SPAWN', message: /uid: needs gid/ });
    assert.throws(() => execHelperArgs({ gid: -1 }, 'true', []), { code: 'EMP_ERR_SPAWN', message: /gid: expected an integer 0\.\.4294967294, got -1/ });
  });

  for (const pidns of [false, true]) {
    it(`runs as nobody:nogroup with no supplementary groups and no_new_privs (${pidns ? 'pid namespace' : 'direct'})`, { skip: needsRoot }, async () => {
      const uid = await idOf('/etc/passwd', 'nobody');
      const gid = await idOf('/etc/group', 'nogroup');
      const r = viaHelper({ pidns, uid, gid, noNewPrivs: true, mergeStderr: true }, 'sh', ['-c', 'echo ready; exec sleep 1000']);
      await r.line(/^ready$/);
      // With a pid namespace the program is the helper's grandchild.
      const worker = pidns ? await childOf(await childOf(r.pid)) : r.pid;
      await waitFor(async () => (await statusField(worker, 'Name')) === 'sleep', { what: 'the program to run' });
      assert.equal(await statusField(worker, 'Uid'), `${uid} ${uid} ${uid} ${uid}`);
      assert.equal(await statusField(worker, 'Gid'), `${gid} ${gid} ${gid} ${gid}`);
      assert.equal(await statusField(worker, 'Groups'), '');
      assert.equal(await statusField(worker, 'NoNewPrivs'), '1');
      process.kill(-r.pid, 'SIGKILL');
      await r.exited;
    });
  }

  it('keeps the user\'s groups with --init-groups', { skip: needsRoot }, async () => {
    const uid = await idOf('/etc/passwd', 'nobody');
    const gid = await idOf('/etc/group', 'nogroup');
    const r = viaHelper({ uid, gid, initGroups: 'nobody' }, 'sh', ['-c', 'echo ready; exec sleep 1000']);
    await r.line(/^ready$/);
    await waitFor(async () => (await statusField(r.pid, 'Name')) === 'sleep', { what: 'the program to run' });
    assert.equal(await statusField(r.pid, 'Groups'), String(gid));
    process.kill(-r.pid, 'SIGKILL');
    await r.exited;
  });

  it('the worker dies when its spawner is SIGKILLed, even after dropping to nobody', { skip: needsRoot }, async () => {
    const uid = await idOf('/etc/passwd', 'nobody');
    const gid = await idOf('/etc/group', 'nogroup');
    const parent = viaSpawningParent({ uid, gid }, 'sh', ['-c', 'echo ready; exec sleep 1000']);
    const worker = Number((await parent.line(/^spawned \d+$/)).split(' ')[1]);
    await parent.line(/^ready$/);
    assert.ok(await isAlive(worker));
    process.kill(parent.pid, 'SIGKILL');
    await parent.exited;
    await waitFor(async () => !(await isAlive(worker)), { what: `worker ${worker} to die with its spawner` });
  });

  describe('with a pid namespace', { skip: needsRoot }, () => {
    it('a setsid grandchild dies when the spawner is SIGKILLed', async () => {
      const token = uniqueSleep();
      const parent = viaSpawningParent({ pidns: true }, 'sh', ['-c', `setsid sleep ${token} & echo started; wait`]);
      const helperPid = Number((await parent.line(/^spawned \d+$/)).split(' ')[1]);
      await parent.line(/^started$/);
      const [grandchild] = await waitFor(async () => {
        const pids = await pidsWith(token);
        return pids.length > 0 ? pids : undefined;
      }, { what: `the setsid grandchild (sleep ${token})` });
      assert.ok(grandchild !== undefined);
      // setsid took it out of the worker's process group: killing the group alone would miss it.
      assert.notEqual(await statusField(grandchild, 'NSsid'), await statusField(helperPid, 'NSsid'));
      process.kill(parent.pid, 'SIGKILL');
      await parent.exited;
      await waitFor(async () => !(await isAlive(helperPid)), { what: `helper ${helperPid} to die with its spawner` });
      await waitFor(async () => !(await isAlive(grandchild)), { what: `grandchild ${grandchild} to die with the namespace` });
    });

    it('nothing the program started outlives it', async () => {
      const token = uniqueSleep();
      const r = viaHelper({ pidns: true }, 'sh', ['-c', `setsid sleep ${token} & echo started`]);
      // 'close' only comes once every holder of the stdout pipe, the grandchild too, is gone.
      assert.deepEqual(await r.closed, { code: 0, signal: null });
      assert.deepEqual(r.lines, ['started']);
      assert.deepEqual(await pidsWith(token), []);
    });

    it('SIGTERM to the process group ends a program that does not handle it', async () => {
      const r = viaHelper({ pidns: true }, 'sh', ['-c', 'echo ready; exec sleep 1000']);
      await r.line(/^ready$/);
      await waitFor(async () => (await statusField(await childOf(await childOf(r.pid)), 'Name')) === 'sleep', { what: 'the program to run' });
      process.kill(-r.pid, 'SIGTERM');
      assert.deepEqual(await r.closed, { code: null, signal: 'SIGTERM' });
    });

    it('the helper survives group signals and does not forward them', async () => {
      const r = viaHelper({ pidns: true }, 'sh', ['-c', 'trap "echo usr1" USR1; echo ready; while :; do sleep 1 & wait $!; done']);
      await r.line(/^ready$/);
      process.kill(-r.pid, 'SIGUSR1');
      await r.line(/^usr1$/);
      process.kill(-r.pid, 'SIGHUP');
      assert.deepEqual(await r.closed, { code: null, signal: 'SIGHUP' });
      assert.deepEqual(r.lines, ['ready', 'usr1']);
    });
  });
});

describe('execHelperArgs', () => {
  it('builds the argv after the helper path, parent pid included', () => {
    assert.deepEqual(
      execHelperArgs({ mergeStderr: true, cgroupProcs: ['/a/cgroup.procs', '/b/cgroup.procs'], pidns: true, uid: 1000, gid: 100, initGroups: 'app', noNewPrivs: true }, 'node', ['server.js', '--port', '3031']),
      ['--merge-stderr', '--cgroup-procs', '/a/cgroup.procs', '--cgroup-procs', '/b/cgroup.procs', '--pidns', '--gid', '100', '--init-groups', 'app', '--uid', '1000', '--no-new-privs', '--parent', String(process.pid), '--', 'node', 'server.js', '--port', '3031'],
    );
    assert.deepEqual(execHelperArgs({ parentPid: 42 }, 'true', []), ['--parent', '42', '--', 'true']);
  });

  it('finds the built helper, once', () => {
    const path = helper();
    assert.match(path, /src\/native\/build\/Release\/emperor-exec$/);
    assert.equal(execHelperPath(), path);
  });
});
