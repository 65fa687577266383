/**
 * Starts the process of a `cmd:` alarm action: its stdin a pipe, its stdout and stderr one pipe,
 * in a session and process group of its own, the way workers start (src/core/launch.ts): with
 * posix_spawn when the spawn addon is built, so no copy of the emperor's page tables sits between
 * a log line and its alarm command.
 */
import type { Readable, Writable } from 'node:stream';
import { launch } from '../../core/launch.js';

export interface CommandSpec {
  /** An absolute path. */
  file: string;
  args: readonly string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** Credentials Node's spawn sets itself (no exec helper). */
  uid?: number;
  gid?: number;
}

export interface CommandEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CommandProcess {
  pid: number;
  stdin: Writable;
  /** stdout and stderr. */
  output: Readable[];
  /** Settles once the process has ended and its output pipes are closed; rejects when it never ran. */
  ended: Promise<CommandEnd>;
}

/** Throws when the process cannot be started at all. */
export function startCommand(spec: CommandSpec): CommandProcess {
  const p = launch({ ...spec, stdin: 'pipe', stderr: 'stdout', extraFds: [], channels: 0 });
  // A read error ends a pipe like its end does: 'close' follows either way.
  for (const o of p.outputs) o.on('error', () => {});
  const closed = p.outputs.map((o) => new Promise<void>((resolve) => o.once('close', () => resolve())));
  const exited = new Promise<CommandEnd>((resolve, reject) => p.onEnd((e) => (e.error ? reject(e.error) : resolve({ code: e.code, signal: e.signal }))));
  // Like Node's 'close': the process has ended and everything it wrote has been read.
  const ended = Promise.all([exited, ...closed]).then(([end]) => end);
  return { pid: p.pid, stdin: p.stdin!, output: p.outputs, ended };
}
