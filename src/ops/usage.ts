/**
 * CPU and memory of a vassal, summed over each worker and everything it started (as root a
 * worker is the exec helper, and the program runs below it in its pid namespace). Samples are
 * taken when someone asks (stats, status, top, metrics), never on a timer, and shared for a
 * moment between askers, so a fleet of idle vassals costs nothing and a burst of scrapes costs one
 * walk of /proc.
 */
import type { Vassal } from '../core/vassal.js';
import { createLimit, type Limit } from '../monitors/limit.js';
import { processTree, readProcStat, readSmapsRollup } from './proc.js';

export interface WorkerUsage {
  slot: number;
  pid: number;
  /** The worker and its descendants. */
  pids: number[];
  rss: number;
  cpuSeconds: number;
}

export interface VassalUsage {
  at: number;
  workers: WorkerUsage[];
  /** Every process of the vassal. */
  pids: number[];
  rss: number;
  cpuSeconds: number;
  /** Only in detailed samples (smaps_rollup is costly for the kernel to produce). */
  pss?: number;
  uss?: number;
}

export interface UsageSamplerOptions {
  /** A sample this young is reused. */
  maxAgeMs?: number;
  /** Vassals sampled at once. */
  concurrency?: number;
}

export class UsageSampler {
  private readonly cache = new WeakMap<Vassal, Entry>();
  private readonly maxAgeMs: number;
  private readonly limit: Limit;

  constructor(opts: UsageSamplerOptions = {}) {
    this.maxAgeMs = opts.maxAgeMs ?? 500;
    this.limit = createLimit(opts.concurrency ?? 16);
  }

  sample(v: Vassal, detailed = false): Promise<VassalUsage> {
    const workers = v.workers().filter((w): w is typeof w & { pid: number } => w.pid !== undefined);
    const key = workers.map((w) => w.pid).join(',');
    const hit = this.cache.get(v);
    // In flight, or young enough, for the same workers: share it.
    if (hit && hit.pids === key && (hit.detailed || !detailed) && (hit.settledAt === undefined || Date.now() - hit.settledAt <= this.maxAgeMs)) {
      return hit.value;
    }
    const entry: Entry = { detailed, pids: key, settledAt: undefined, value: this.limit(() => measure(workers, detailed)) };
    entry.value.then(
      (u) => { entry.settledAt = u.at; },
      () => { if (this.cache.get(v) === entry) this.cache.delete(v); },
    );
    this.cache.set(v, entry);
    return entry.value;
  }
}

interface Entry {
  detailed: boolean;
  pids: string;
  settledAt: number | undefined;
  value: Promise<VassalUsage>;
}

async function measure(workers: readonly { slot: number; pid: number }[], detailed: boolean): Promise<VassalUsage> {
  const per = await Promise.all(
    workers.map(async (w): Promise<WorkerUsage> => {
      const pids = await processTree([w.pid]);
      const stats = await Promise.all(pids.map(readProcStat));
      let rss = 0;
      let cpu = 0;
      const live: number[] = [];
      for (const s of stats) {
        if (!s) continue;
        live.push(s.pid);
        rss += s.rssBytes;
        cpu += s.cpuSeconds;
      }
      return { slot: w.slot, pid: w.pid, pids: live, rss, cpuSeconds: cpu };
    }),
  );
  const pids = per.flatMap((w) => w.pids);
  const usage: VassalUsage = {
    at: Date.now(),
    workers: per,
    pids,
    rss: per.reduce((a, w) => a + w.rss, 0),
    cpuSeconds: per.reduce((a, w) => a + w.cpuSeconds, 0),
  };
  if (detailed) {
    const rollups = await Promise.all(pids.map(readSmapsRollup));
    let pss = 0;
    let uss = 0;
    for (const r of rollups) {
      if (!r) continue;
      pss += r.pss;
      uss += r.uss;
    }
    usage.pss = pss;
    usage.uss = uss;
  }
  return usage;
}
