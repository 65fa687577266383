/**
 * The fleet as rows, for `emperor status` (a table as `supervisorctl status`), `emperor top` and
 * SIGUSR1: name, state, pids, uptime, restarts, memory, CPU time, alarms, and what is wrong.
 */
import type { Emperor } from '../core/emperor.js';
import { summarizeAlarms, type RecentAlarm } from './alarm-summary.js';
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
  alarms: number;
  recentAlarms: RecentAlarm[];
  health: string;
  /** Why the state is not what one would want, '' when all is well. */
  note: string;
}

export interface StatusResult {
  /** Epoch ms of the sample. */
  time: number;
  rows: StatusRow[];
}

export async function fleetStatus(ctx: { emperor: Emperor; sampler: UsageSampler; services: VassalServices }): Promise<StatusResult> {
  const now = Date.now();
  const rows = await Promise.all(
    [...ctx.emperor.vassals.values()].map(async (v): Promise<StatusRow> => {
      const usage = await ctx.sampler.sample(v);
      const started = v.workers().map((w) => w.startedAt).filter((t): t is number => t !== undefined);
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
        pids: usage.workers.map((w) => w.pid),
        uptime: started.length > 0 ? Math.max(0, Math.floor((now - Math.min(...started)) / 1000)) : null,
        restarts: v.restarts,
        reloads: v.reloads,
        memory: usage.workers.length > 0 ? usage.rss : null,
        cpu: usage.cpuSeconds,
        alarms: alarms.fired,
        recentAlarms: alarms.recent.slice(-5),
        health: ctx.services.health(v),
        note,
      };
    }),
  );
  for (const [name, inv] of ctx.emperor.invalid) {
    rows.push({ name, state: 'invalid', pids: [], uptime: null, restarts: 0, reloads: 0, memory: null, cpu: 0, alarms: 0, recentAlarms: [], health: `Not ready: config rejected`, note: inv.error });
  }
  rows.sort((a, b) => a.name.localeCompare(b.name));
  return { time: now, rows };
}
