/**
 * The spawn addon (spawn.c): posix_spawn instead of Node's fork-based spawn, so starting a worker
 * costs the same however large the emperor has grown, and a SIGCHLD watch for its end.
 */
import { loadAddon, type AddonResult } from './addon.js';

export interface SpawnAddon {
  /**
   * Starts `file` (argv[0] included in argv) in a session of its own; `fds[i]` becomes the
   * child's descriptor i (-1: /dev/null), every other descriptor is closed in the child.
   * onExit(code, signal) runs once at its end. Throws a system error when it cannot run.
   */
  spawn(file: string, argv: readonly string[], env: readonly string[], cwd: string | null, fds: readonly number[], onExit: (code: number | null, signal: number | null) => void): number;
  /** [read end, write end], close-on-exec. */
  pipe(): [number, number];
  /** A connected AF_UNIX stream pair, close-on-exec. */
  socketpair(): [number, number];
  closeFd(fd: number): void;
}

let loaded: AddonResult<SpawnAddon> | undefined;

/** The addon, or why it cannot be used. */
export function spawnAddon(): AddonResult<SpawnAddon> {
  loaded ??= loadAddon<SpawnAddon>('spawn', 'the spawn addon', ['spawn', 'pipe', 'socketpair', 'closeFd']);
  return loaded;
}
