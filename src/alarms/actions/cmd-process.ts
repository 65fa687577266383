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
  /**
   * A socket on fd 3 that the process waits on (the exec helper's --hold-fd 3) until release()
   * sends its one byte.
   */
  held?: boolean;
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
  /** False once the process has ended (its pipes may still drain). */
  readonly running: boolean;
  /** A held process: lets it go on. */
  release(): void;
}

/** The go-ahead of a held process: one byte, then the end of the socket. */
const GO = Buffer.from([1]);

/** Throws when the process cannot be started at all. */
export function startCommand(spec: CommandSpec): CommandProcess {
  const { held, ...rest } = spec;
  const p = launch({ ...rest, stdin: 'pipe', stderr: 'stdout', extraFds: [], channels: held ? 1 : 0 });
  // A read error ends a pipe like its end does: 'close' follows either way.
  for (const o of [...p.outputs, ...p.channels]) o.on('error', () => {});
  const closed = p.outputs.map((o) => new Promise<void>((resolve) => o.once('close', () => resolve())));
  let running = true;
  const exited = new Promise<CommandEnd>((resolve, reject) =>
    p.onEnd((e) => {
      running = false;
      for (const c of p.channels) c.destroy();
      if (e.error) reject(e.error);
      else resolve({ code: e.code, signal: e.signal });
    }),
  );
  // Like Node's 'close': the process has ended and everything it wrote has been read.
  const ended = Promise.all([exited, ...closed]).then(([end]) => end);
  return {
    pid: p.pid,
    stdin: p.stdin!,
    output: p.outputs,
    ended,
    get running() {
      return running;
    },
    release() {
      for (const c of p.channels) c.end(GO);
    },
  };
}
