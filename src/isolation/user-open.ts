/**
 * Opens a file for appending exactly as a vassal's user would, for the root emperor to write to.
 *
 * A short-lived shell runs as the user (exec helper: uid, gid, groups, no_new_privs) and opens the
 * file itself, so the kernel applies every rule to the user: each directory's permissions, every
 * symlink, the file's mode, and a file it creates is the user's. The emperor then opens the same
 * file through /proc/PID/fd/3 of that shell while it is still running, and checks the inode it
 * now holds: a regular file (not a pipe or device slipped in as fd 3) that the user may write (a
 * process of the user can hold an O_PATH descriptor of a file it may not write). No
 * check-then-open window: both checks are on the descriptor itself. One process per open, at
 * vassal start; nothing runs afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { close, constants, fstat, open } from 'node:fs';
import { promisify } from 'node:util';
import { EmperorError, ErrorCodes } from '../errors.js';
import { execHelperArgs, execHelperPath } from '../native/exec-helper.js';
import { describeCredentials, helperCredentials, type Credentials } from './credentials.js';
import { permits, W } from './user-access.js';

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const closeAsync = promisify(close);

/** Opens fd 3 for appending, says so, then waits for its stdin to close. */
const SCRIPT = 'exec 3>>"$1" || exit 1; echo open; read _';

export interface OpenAsUserOptions {
  /** Where a relative path resolves, as it would for the user's workers. */
  cwd: string;
  /** The option the path came from, for messages (`logto`). */
  key: string;
  timeoutMs?: number;
}

function spawnAsUser(path: string, who: Credentials, cwd: string): ChildProcess {
  const helper = execHelperPath();
  const stdio: Array<'pipe'> = ['pipe', 'pipe', 'pipe'];
  if (helper) {
    return spawn(helper, execHelperArgs(helperCredentials(who), '/bin/sh', ['-c', SCRIPT, 'sh', path]), { cwd, stdio, env: { PATH: '/usr/bin:/bin' } });
  }
  // Without the helper, Node sets the ids itself and drops every supplementary group.
  return spawn('/bin/sh', ['-c', SCRIPT, 'sh', path], { cwd, stdio, uid: who.uid, gid: who.gid, env: { PATH: '/usr/bin:/bin' } });
}

/** The shell's complaint without its `sh: 1: ` prefix. */
function complaint(stderr: string): string {
  const last = stderr.trim().split('\n').pop() ?? '';
  return last.replace(/^(?:\/bin\/)?sh: (?:\d+: )?(?:line \d+: )?/, '').trim();
}

/**
 * A file descriptor open for appending to `path` (O_WRONLY|O_APPEND), opened with `who`'s rights.
 * Rejects with a PERMISSION error naming the option and the system's reason.
 */
export async function openAppendAsUser(path: string, who: Credentials, opts: OpenAsUserOptions): Promise<number> {
  const fail = (why: string, cause?: unknown): EmperorError =>
    new EmperorError(ErrorCodes.PERMISSION, `${opts.key}: ${describeCredentials(who)} cannot open '${path}' for appending: ${why}`, { key: opts.key, cause });
  if (path === '' || path.includes('\0')) throw fail('not a file path');
  const child = spawnAsUser(path, who, opts.cwd);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let opened = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(fail(`no answer within ${opts.timeoutMs ?? 5000} ms (a FIFO without a reader?)`)), opts.timeoutMs ?? 5000);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('open\n')) { clearTimeout(timer); resolve(); }
      });
      child.once('error', (err) => { clearTimeout(timer); reject(fail(err.message, err)); });
      child.once('exit', () => {
        clearTimeout(timer);
        // stderr may still be arriving: read it once the pipes are closed.
        void exited.then(() => reject(fail(complaint(stderr) || 'the opening process failed')));
      });
    });
    const taken = await takeOver(child, 3, who);
    if (typeof taken === 'string') throw fail(taken);
    const fd = taken;
    opened = true;
    return fd;
  } finally {
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null) {
      // After a failure nothing more is wanted from it; after a success it exits once stdin ends.
      const t = setTimeout(() => child.kill('SIGKILL'), opened ? 2000 : 0);
      await exited;
      clearTimeout(t);
    }
  }
}

/**
 * Opens descriptor `fd` of the running `child` (a process of `who`) for appending, through
 * /proc, and checks what it got: a regular file `who` may write. Resolves with the new descriptor,
 * or with the reason it was refused.
 */
export async function takeOver(child: ChildProcess, fd: number, who: Pick<Credentials, 'uid' | 'groups'>): Promise<number | string> {
  let own: number;
  try {
    // O_NONBLOCK: a FIFO swapped in must not block the thread pool; no effect on a regular file.
    own = await openAsync(`/proc/${child.pid}/fd/${fd}`, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return `cannot take over the descriptor (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  // Until the child is reaped its pid cannot be reused: an exit noticed only now means the
  // descriptor may belong to someone else.
  const refusal = child.exitCode !== null || child.signalCode !== null
    ? 'the opening process ended before its descriptor was taken over'
    : await fstatAsync(own).then((st) =>
      // A process of the user can hold what it may not write (an O_PATH descriptor needs no
      // permission on the file at all): the inode now held must be writable by the user itself.
      !st.isFile() ? 'not a regular file' : !permits(st, who, W) ? 'the file is not writable by the user' : undefined);
  if (refusal === undefined) return own;
  await closeAsync(own);
  return refusal;
}
