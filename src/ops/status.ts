/**
 * The fleet as rows, for `emperor status` (a table as `supervisorctl status`), `emperor top` and
 * SIGUSR1: name, state, pids, uptime, restarts, memory, CPU time, alarms, and what is wrong.
 */
import type { Emperor } from '../core/emperor.js';
import { summarizeAlarms, type RecentAlarm } from './alarm-summary.js';
import { byLocale, mapSliced } from './sliced.js';
import type { UsageSampler } from './usage.js';
import type { VassalServices } from './vassal-services.js';

export interface StatusRow {
  name: string;
  /** A vassal state, or `invalid` for a config that was rejected with nothing running. */
  state: string;
  pids: number[];
  /** Seconds since the oldest running worker started; null when none runs. */
  uptime: number | null;
  restarts: number;
  reloads: number;
  /** Resident bytes of every process of the vassal; null when none runs. */
  memory: number | null;
  /** CPU seconds used by the running processes (top turns two samples into a percentage). */
  cpu: number;
  /** Epoch ms at which memory and cpu were read (the oldest of its workers' figures); null while a running worker has not been measured yet, or none runs. */
  sampledAt?: number | null;
  alarms: number;
  recentAlarms: RecentAlarm[];
  health: string;
  /** Why the state is not what one would want, '' when all is well. */
  note: string;
}

export interface StatusResult {
  /** Epoch ms of the answer (each row says when its memory and cpu were read). */
  time: number;
  rows: StatusRow[];
}

export async function fleetStatus(ctx: { emperor: Emperor; sampler: UsageSampler; services: VassalServices }): Promise<StatusResult> {
  await ctx.sampler.demand();
  const now = Date.now();
  const rows = await mapSliced([...ctx.emperor.vassals.values()], (v): StatusRow => {
    const workers = v.workers();
    const usage = ctx.sampler.latest(workers);
    const pids: number[] = [];
    let oldestStart: number | undefined;
    for (const w of workers) {
      if (w.pid !== undefined) pids.push(w.pid);
      if (w.startedAt !== undefined && (oldestStart === undefined || w.startedAt < oldestStart)) oldestStart = w.startedAt;
    }
    const alarms = summarizeAlarms(v.alarmStats());
    const note = v.configError
      ? `new config rejected: ${v.configError}`
      : v.state === 'backoff' && v.lastExit
        ? `crash-looping (${v.crashLevel} in a row)`
        : v.state === 'exiled'
          ? 'exited with code 26: not respawned'
          : v.state === 'waiting'
            ? `on demand: starts at the first connection to ${v.onDemand ?? '?'}`
            : '';
    return {
      name: v.name,
      state: v.state,
      pids,
      uptime: oldestStart === undefined ? null : Math.max(0, Math.floor((now - oldestStart) / 1000)),
      restarts: v.restarts,
      reloads: v.reloads,
      memory: pids.length > 0 ? usage.rss : null,
      cpu: usage.cpuSeconds,
      sampledAt: usage.oldest ?? null,
      alarms: alarms.fired,
      recentAlarms: alarms.recent.slice(-5),
      health: ctx.services.health(v),
      note,
    };
  });
  for (const [name, inv] of ctx.emperor.invalid) {
    rows.push({ name, state: 'invalid', pids: [], uptime: null, restarts: 0, reloads: 0, memory: null, cpu: 0, sampledAt: null, alarms: 0, recentAlarms: [], health: `Not ready: config rejected`, note: inv.error });
  }
  rows.sort((a, b) => byLocale(a.name, b.name));
  return { time: now, rows };
}
