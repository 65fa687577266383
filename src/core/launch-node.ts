/** Launching with Node's child_process: the fallback when the spawn addon is not built. */
import { spawn } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import type { LaunchEnd, Launched, LaunchSpec } from './launch.js';

export function launchNode(spec: LaunchSpec): Launched {
  // Node makes every 'pipe' past stdio 2 a socketpair: the worker gets its end as that fd.
  const channelPipes = Array.from({ length: spec.channels }, () => 'pipe' as const);
  const child = spawn(spec.file, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    // Own session and process group: the whole group is signalled, and the terminal's ^C
    // reaches only the emperor, which then stops vassals in order.
    detached: true,
    stdio: [spec.stdin ?? 'ignore', 'pipe', spec.stderr === 'null' ? 'ignore' : 'pipe', ...spec.extraFds, ...channelPipes],
    uid: spec.uid,
    gid: spec.gid,
  });
  let ended: LaunchEnd | undefined;
  const waiting: Array<(end: LaunchEnd) => void> = [];
  const end = (e: LaunchEnd): void => {
    if (ended) return;
    ended = e;
    for (const cb of waiting.splice(0)) cb(e);
  };
  child.once('error', (error) => end({ code: null, signal: null, error }));
  child.once('exit', (code, signal) => end({ code, signal }));
  const first = 3 + spec.extraFds.length;
  return {
    pid: child.pid ?? -1,
    stdin: child.stdin,
    outputs: [child.stdout, child.stderr].filter((s): s is Readable => s !== null),
    channels: channelPipes.flatMap((_, i) => (child.stdio[first + i] as Duplex | null) ?? []),
    onEnd(cb) {
      if (ended) cb(ended);
      else waiting.push(cb);
    },
  };
}
