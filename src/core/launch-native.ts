/** Launching with the spawn addon: posix_spawn, pipes and socketpairs made here, exits seen through SIGCHLD. */
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import type { SpawnAddon } from '../native/spawn.js';
import type { LaunchEnd, Launched, LaunchSpec } from './launch.js';

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

export function launchNative(addon: SpawnAddon, spec: LaunchSpec): Launched {
  // Descriptors to close in the emperor once the child has its copies, and the ones we keep.
  const theirs: number[] = [];
  const ours: number[] = [];
  const pipe = (theirEnd: 0 | 1): number => {
    const fds = addon.pipe();
    theirs.push(fds[theirEnd]);
    ours.push(fds[1 - theirEnd]!);
    return fds[theirEnd];
  };
  try {
    const stdin = spec.stdin === 'pipe' ? pipe(0) : (spec.stdin ?? -1);
    const stdout = pipe(1);
    const stderr = spec.stderr === 'pipe' ? pipe(1) : spec.stderr === 'stdout' ? stdout : -1;
    const channels: number[] = [];
    for (let i = 0; i < spec.channels; i++) {
      const [mine, child] = addon.socketpair();
      ours.push(mine);
      theirs.push(child);
      channels.push(child);
    }
    const env = Object.entries(spec.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    let ended: LaunchEnd | undefined;
    const waiting: Array<(end: LaunchEnd) => void> = [];
    const pid = addon.spawn(spec.file, [spec.file, ...spec.args], env, spec.cwd ?? null, [stdin, stdout, stderr, ...spec.extraFds, ...channels], (code, signal) => {
      ended = { code, signal: signal === null ? null : (signalNames.get(signal) ?? null) };
      for (const cb of waiting.splice(0)) cb(ended);
    });
    for (const fd of theirs.splice(0)) addon.closeFd(fd);
    // From here on the sockets own our ends, in the order they were made.
    const mine = ours.splice(0);
    const take = (): number => mine.shift()!;
    const stdinSocket = spec.stdin === 'pipe' ? new Socket({ fd: take(), readable: false, writable: true }) : null;
    const outputs: Readable[] = [new Socket({ fd: take(), readable: true, writable: false })];
    if (spec.stderr === 'pipe') outputs.push(new Socket({ fd: take(), readable: true, writable: false }));
    return {
      pid,
      stdin: stdinSocket,
      outputs,
      channels: mine.map((fd) => new Socket({ fd, readable: true, writable: true })),
      onEnd(cb) {
        if (ended) cb(ended);
        else waiting.push(cb);
      },
    };
  } catch (err) {
    for (const fd of [...ours, ...theirs]) addon.closeFd(fd);
    throw err;
  }
}
