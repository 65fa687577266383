/**
 * The worker exec helper (emperor-exec, built from emperor-exec.c at install): the steps a worker
 * needs between fork and exec that Node's spawn cannot run (join the cgroup, change credentials,
 * die with the emperor, own pid namespace). Spawn it as
 *   spawn(execHelperPath(), execHelperArgs(opts, program, args), { detached: true, ... })
 */
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmperorError, ErrorCodes } from '../errors.js';

export interface ExecHelperOptions {
  /** One pipe for stdout and stderr: the helper does dup2(1, 2) first. */
  mergeStderr?: boolean;
  /** cgroup.procs files to write the worker's pid to, before the program or anything it forks runs. */
  cgroupProcs?: readonly string[];
  /** Run in a new pid namespace (root only): nothing the program starts outlives it. */
  pidns?: boolean;
  uid?: number;
  /** Required with uid or initGroups. */
  gid?: number;
  /** initgroups(user, gid) instead of dropping every supplementary group. */
  initGroups?: string;
  noNewPrivs?: boolean;
  /**
   * fds 3.. 3+N-1 are listening sockets handed over as systemd does (sd_listen_fds): the program
   * gets LISTEN_FDS=N and LISTEN_PID=its own pid, set by the final process itself (inside a pid
   * namespace the program's pid is not the one the emperor sees).
   */
  listenFds?: number;
  /**
   * Wait, once in the cgroups, for one byte on this fd before going on (the helper exits 0 when
   * it ends first): a process started ahead of need, with the cgroup join already paid.
   */
  holdFd?: number;
  /** The pid that spawns the helper, to notice it died before the helper could watch it.
   *  Default: this process. */
  parentPid?: number;
}

let cached: { path: string | undefined } | undefined;

/** The built helper, or undefined when it was not built. Looked up once. */
export function execHelperPath(): string | undefined {
  if (cached) return cached.path;
  const here = dirname(fileURLToPath(import.meta.url));
  const rel = join('build', 'Release', 'emperor-exec');
  // Beside this file in a source checkout; in the project's src/native when running from dist/.
  const candidates = [join(here, rel), join(here, '..', '..', '..', 'src', 'native', rel)];
  cached = { path: candidates.find(isExecutable) };
  return cached.path;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function id(name: string, value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 4294967294) {
    throw new EmperorError(ErrorCodes.SPAWN, `exec helper option ${name}: expected an integer 0..4294967294, got ${String(value)}`, { key: name });
  }
  return String(value);
}

function text(name: string, value: string): string {
  if (value === '' || value.includes('\0')) {
    throw new EmperorError(ErrorCodes.SPAWN, `exec helper option ${name}: expected a non-empty string without NUL, got ${JSON.stringify(value)}`, { key: name });
  }
  return value;
}

/** The helper's argv (after its path) to run `program` with `args` under `opts`. */
export function execHelperArgs(opts: ExecHelperOptions, program: string, args: readonly string[]): string[] {
  const out: string[] = [];
  if (opts.mergeStderr) out.push('--merge-stderr');
  for (const file of opts.cgroupProcs ?? []) out.push('--cgroup-procs', text('cgroupProcs', file));
  if (opts.pidns) out.push('--pidns');
  if (opts.uid !== undefined && opts.gid === undefined) {
    throw new EmperorError(ErrorCodes.SPAWN, 'exec helper option uid: needs gid as well, so a worker never keeps group 0', { key: 'uid' });
  }
  if (opts.initGroups !== undefined && opts.gid === undefined) {
    throw new EmperorError(ErrorCodes.SPAWN, 'exec helper option initGroups: needs gid as well', { key: 'initGroups' });
  }
  if (opts.gid !== undefined) out.push('--gid', id('gid', opts.gid));
  if (opts.initGroups !== undefined) out.push('--init-groups', text('initGroups', opts.initGroups));
  if (opts.uid !== undefined) out.push('--uid', id('uid', opts.uid));
  if (opts.noNewPrivs) out.push('--no-new-privs');
  if (opts.listenFds !== undefined && opts.listenFds > 0) {
    if (!Number.isInteger(opts.listenFds) || opts.listenFds > 1024) {
      throw new EmperorError(ErrorCodes.SPAWN, `exec helper option listenFds: expected an integer 0..1024, got ${String(opts.listenFds)}`, { key: 'listenFds' });
    }
    out.push('--listen-fds', String(opts.listenFds));
  }
  if (opts.holdFd !== undefined) out.push('--hold-fd', id('holdFd', opts.holdFd));
  out.push('--parent', id('parentPid', opts.parentPid ?? process.pid));
  out.push('--', text('program', program));
  for (const a of args) {
    if (a.includes('\0')) throw new EmperorError(ErrorCodes.SPAWN, `exec helper argument ${JSON.stringify(a)} contains NUL`, { key: 'args' });
    out.push(a);
  }
  return out;
}
