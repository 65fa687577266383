/**
 * Starting a worker's process: with the spawn addon (posix_spawn, no copy of the emperor's
 * memory) when it is built, else with Node's child_process. Both give the same Launched.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { spawnAddon } from '../native/spawn.js';
import { launchNative } from './launch-native.js';
import { launchNode } from './launch-node.js';

export interface LaunchSpec {
  /** An absolute path, or a name looked up in PATH. */
  file: string;
  args: readonly string[];
  cwd?: string;
  env: Readonly<Record<string, string | undefined>>;
  /** A descriptor for fd 0, or a pipe to write to (Launched.stdin); /dev/null when absent. */
  stdin?: number | 'pipe';
  /**
   * 'pipe': a pipe of its own; 'stdout': the stdout pipe (Node's spawn cannot share one: it gets
   * a pipe of its own there); 'null': /dev/null (the exec helper sends it to stdout itself).
   */
  stderr: 'pipe' | 'stdout' | 'null';
  /** Passed as fd 3, 4, …, then `channels` socketpairs. */
  extraFds: readonly number[];
  channels: number;
  /** Credentials set by Node itself (no exec helper): Node's spawn only. */
  uid?: number;
  gid?: number;
}

export interface LaunchEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It never ran. */
  error?: Error;
}

export interface Launched {
  pid: number;
  /** Set with `stdin: 'pipe'`. */
  stdin: Writable | null;
  /** stdout, then stderr when it has its own pipe. */
  outputs: Readable[];
  /** The emperor's ends of the spec's channels. */
  channels: Duplex[];
  /** Calls back once, when the process has ended (its output may still be draining). */
  onEnd(cb: (end: LaunchEnd) => void): void;
}

/** Starts the process; throws when it cannot be started at all. */
export function launch(spec: LaunchSpec): Launched {
  const native = spawnAddon();
  if ('addon' in native && spec.uid === undefined && spec.gid === undefined && spec.file.startsWith('/')) return launchNative(native.addon, spec);
  return launchNode(spec);
}
