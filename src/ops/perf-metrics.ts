/**
 * ftw.monitor's `perf_metrics` for a vassal: instance uptime, memory (rss, uss, pss summed over
 * every process of the vassal, and its cgroup's charge where it has one), restarts and alarms.
 * The same figures feed `emperor metrics --influx`.
 */
import type { Vassal } from '../core/vassal.js';
import { summarizeAlarms } from './alarm-summary.js';
import { cgroupMemory } from './cgroup-memory.js';
import type { UsageSampler } from './usage.js';

export interface PerfMetrics {
  instance: {
    name: string;
    state: string;
    /** Seconds since the oldest running worker started (0 when none runs). */
    uptime: number;
    pids: number[];
    workers: number;
  };
  memory: {
    rss: number;
    uss: number;
    pss: number;
    /** Bytes charged to the vassal's memory cgroup; absent when it has none. */
    cgroup?: number;
  };
  restarts: number;
  reloads: number;
  alarms: { fired: number };
}

export async function perfMetrics(v: Vassal, sampler: UsageSampler, now = Date.now()): Promise<PerfMetrics> {
  const [usage, cgroup] = await Promise.all([sampler.detailed(v), cgroupMemory(v.plan)]);
  const started = v.workers().map((w) => w.startedAt).filter((t): t is number => t !== undefined);
  const oldest = started.length > 0 ? Math.min(...started) : undefined;
  return {
    instance: {
      name: v.name,
      state: v.state,
      uptime: oldest === undefined ? 0 : Math.max(0, Math.floor((now - oldest) / 1000)),
      pids: usage.pids,
      workers: usage.workers.length,
    },
    memory: { rss: usage.rss, uss: usage.uss ?? 0, pss: usage.pss ?? 0, ...(cgroup === undefined ? {} : { cgroup }) },
    restarts: v.restarts,
    reloads: v.reloads,
    alarms: { fired: summarizeAlarms(v.alarmStats()).fired },
  };
}
