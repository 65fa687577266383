/**
 * The on-demand socket addon and the exec helper's --listen-fds: a socket bound and watched by
 * the emperor keeps its first client in the backlog (never accepted by the emperor), and a worker
 * receives it as systemd passes one, LISTEN_PID being the pid the program sees for itself.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { countConnections, readConnectionTable } from '../../src/core/connections.js';
import { execHelperArgs, execHelperPath } from '../../src/native/exec-helper.js';
import { listenSocketAddon, type ListenSocketAddon } from '../../src/native/listen-socket.js';
import { freePort, tempDir, waitFor } from '../helpers/wait.js';

const isRoot = process.getuid?.() === 0;
const loaded = listenSocketAddon();
const skip = 'reason' in loaded ? loaded.reason : !execHelperPath() ? 'the exec helper is not built' : false;
const addon = (): ListenSocketAddon => {
  if ('reason' in loaded) throw new Error(loaded.reason);
  return loaded.addon;
};

/** Runs PROGRAM through the helper with `fd` as fd 3; resolves with its output lines. */
function runWithSocket(fd: number, opts: { pidns: boolean }, program: string, args: readonly string[]): Promise<{ lines: string[]; helperFds: string[] }> {
  const child = spawn(execHelperPath()!, execHelperArgs({ mergeStderr: true, pidns: opts.pidns, listenFds: 1 }, program, args), {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore', fd],
  });
  const lines: string[] = [];
  let helperFds: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    // While the program runs, the helper outside the namespace must not hold the socket.
    if (l === 'running') void readFile(`/proc/${child.pid}/fdinfo/3`, 'utf8').then(() => (helperFds = ['3']), () => (helperFds = []));
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve({ lines, helperFds }));
  });
}

const O_NONBLOCK = 0o4000;

describe('listen-socket addon and --listen-fds', { skip }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('emperor-listen-')));
  after(() => cleanup());

  for (const pidns of [false, true]) {
    it(`hands fd 3 over blocking, with LISTEN_FDS=1 and LISTEN_PID the program's own pid (${pidns ? 'pid namespace' : 'direct'})`, { skip: pidns && !isRoot ? 'needs root' : false }, async () => {
      // A socket Node made non-blocking: the program still gets it blocking, as from systemd.
      const srv: Server = createServer();
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const fd = (srv as unknown as { _handle: { fd: number } })._handle.fd;
      try {
        const script = 'echo "$LISTEN_FDS $LISTEN_PID $$"; grep ^flags /proc/self/fdinfo/3; echo running; sleep 0.3';
        const { lines, helperFds } = await runWithSocket(fd, { pidns }, 'sh', ['-c', script]);
        const [fds, listenPid, self] = (lines[0] ?? '').split(' ');
        assert.equal(fds, '1');
        assert.equal(listenPid, self, `LISTEN_PID is the program's pid as it sees it: ${lines[0]}`);
        if (pidns) assert.notEqual(Number(self), 0);
        const flags = parseInt((lines[1] ?? '').split(/\s+/)[1] ?? 'x', 8);
        assert.equal(flags & O_NONBLOCK, 0, `fd 3 is blocking: ${lines[1]}`);
        if (pidns) assert.deepEqual(helperFds, [], 'the helper outside the namespace closed its copy');
      } finally {
        srv.close();
      }
    });
  }

  it('refuses --listen-fds for a descriptor that is not open', async () => {
    const child = spawn(execHelperPath()!, execHelperArgs({ mergeStderr: true, listenFds: 2 }, 'true', []), { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.once('close', r));
    assert.equal(code, 126);
    assert.match(out, /emperor-exec: --listen-fds 2: fd 3: Bad file descriptor/);
  });

  it('keeps the first client in the backlog: the watch fires, nobody accepts until the worker does', async () => {
    const a = addon();
    const port = await freePort();
    const fd = a.listenTcp('127.0.0.1', port, 16);
    let fired = 0;
    const watch = a.watch(fd, () => fired++, (err) => assert.fail(err));
    let client: Socket | undefined;
    try {
      watch.arm();
      let answer = '';
      client = connect({ port, host: '127.0.0.1' });
      client.setEncoding('utf8').on('data', (d: string) => (answer += d));
      await waitFor(() => fired === 1, { what: 'the watch fired' });
      // Waiting, not accepted: its ESTABLISHED row is the backlog's, and nobody answered.
      assert.equal(countConnections(await readConnectionTable(), { kind: 'tcp', host: '127.0.0.1', port, text: '' }) >= 1, true);
      assert.equal(answer, '');
      const accept = "const s=require('net').createServer(c=>{c.end('hello\\n');s.close()});s.listen({fd:3});";
      const { lines } = await runWithSocket(fd, { pidns: false }, process.execPath, ['-e', accept]);
      assert.deepEqual(lines, []);
      await waitFor(() => answer === 'hello\n', { what: 'the answer of the worker' });
      assert.equal(fired, 1, 'one-shot: it does not fire again until armed');
    } finally {
      client?.destroy();
      watch.close();
      a.closeFd(fd);
    }
  });

  it('unix: the mode is set before anyone can connect; a stale file is replaced, a live socket or another file is not', async () => {
    const a = addon();
    const path = join(dir, 'u.sock');
    const fd = a.listenUnix(path, 16, 0o640, null, null);
    assert.equal((await lstat(path)).mode & 0o777, 0o640);
    assert.throws(() => a.listenUnix(path, 16, 0o640, null, null), { code: 'EADDRINUSE' });
    a.chmodUnix(path, 0o600, null);
    assert.equal((await lstat(path)).mode & 0o777, 0o600);
    a.closeFd(fd);
    // Nobody listens any more: the left-over file is replaced.
    const again = a.listenUnix(path, 16, 0o666, null, null);
    assert.equal((await lstat(path)).mode & 0o777, 0o666);
    a.closeFd(again);
    a.unlinkUnix(path, null);
    await assert.rejects(lstat(path), { code: 'ENOENT' });

    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'x');
    assert.throws(() => a.listenUnix(file, 16, 0o660, null, null), { code: 'EEXIST' });
    a.unlinkUnix(file, null);
    assert.equal(await readFile(file, 'utf8'), 'x', 'unlinkUnix removes sockets only');
  });

  it('as a user: the file is theirs, and a directory they may not write is refused by the kernel', { skip: isRoot ? false : 'needs root' }, async () => {
    const a = addon();
    const nobody = { uid: 65534, gid: 65534, groups: [65534] };
    const open = join(dir, 'open');
    await mkdir(open);
    await chmod(dir, 0o755);
    await chmod(open, 0o777);
    const fd = a.listenUnix(join(open, 'n.sock'), 16, 0o660, nobody, null);
    const st = await lstat(join(open, 'n.sock'));
    assert.deepEqual([st.uid, st.gid], [65534, 65534]);
    a.closeFd(fd);
    a.unlinkUnix(join(open, 'n.sock'), nobody);
    const closed = join(dir, 'closed');
    await mkdir(closed, { mode: 0o755 });
    assert.throws(() => a.listenUnix(join(closed, 'n.sock'), 16, 0o660, nobody, null), { code: 'EACCES' });
    // The emperor's own rights are back: it can still write there.
    await writeFile(join(closed, 'root-can'), 'x');
    const given = a.listenUnix(join(closed, 'g.sock'), 16, 0o660, null, { uid: 65534, gid: 65534 });
    assert.equal((await lstat(join(closed, 'g.sock'))).uid, 65534);
    a.closeFd(given);
    a.unlinkUnix(join(closed, 'g.sock'), null);
  });
});
