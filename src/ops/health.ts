/**
 * A vassal's health as one line, for ftw.monitor's `health_check`: `OK` once it is ready and
 * warmed up, or while it waits on demand (a connection starts it); `Warmup in progress` while
 * its warmup request is under way; a reason otherwise.
 * HAProxy's `tcp-check expect string OK` looks only for OK.
 */
import { formatDuration } from '../core/exit.js';
import type { Vassal } from '../core/vassal.js';
import type { WarmupStatus } from './warmup.js';

export function healthOf(v: Vassal, warmup: WarmupStatus, now = Date.now()): string {
  // On demand with its socket armed: a client is served (the connection starts the vassal).
  if (v.state === 'waiting') return 'OK';
  // A rolling reload keeps ready workers serving while new ones start.
  const serving = v.state === 'running' || (v.state === 'reloading' && v.plan.config.reload.mode === 'rolling' && v.workers().some((w) => w.ready));
  if (serving) {
    if (warmup.state === 'running' || warmup.state === 'pending') return 'Warmup in progress';
    if (warmup.state === 'failed') return `Warmup failed: ${warmup.error}`;
    return 'OK';
  }
  switch (v.state) {
    case 'backoff': {
      const next = v.workers().map((w) => w.restartAt).filter((t): t is number => t !== undefined).sort((a, b) => a - b)[0];
      return next === undefined ? 'Not ready: backoff' : `Not ready: backoff (crash loop, next start in ${formatDuration(Math.max(0, next - now))})`;
    }
    case 'exiled':
      return 'Not ready: exiled (its workers exited with code 26: not respawned)';
    default:
      return `Not ready: ${v.state}`;
  }
}
