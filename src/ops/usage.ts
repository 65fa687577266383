/**
 * CPU and memory of the vassals, summed over each worker and everything it started (as root a
 * worker is the exec helper, and the program runs below it in its pid namespace).
 *
 * A background sampler keeps the latest figures of every worker in memory, so a stats, status or
 * metrics request answers at once from them (with their age) instead of walking /proc while the
 * asker waits. It runs only while someone asks: a request wakes it, and it falls asleep when
 * nobody has asked for ACTIVE_MS, so an unobserved fleet costs nothing. Awake, it reads /proc in
 * slices of at most SLICE_MS and rests between them, spending at most DUTY of a core (more on
 * its first pass after waking, to catch up), so the event loop is never held for long and a
 * large fleet is refreshed less often rather than at a higher cost.
 *
 * The detailed figures (pss, uss from smaps_rollup, costly for the kernel) are taken on demand for
 * the one vassal asked about (perf_metrics, `emperor metrics --influx`).
 */
import type { Vassal, WorkerInfo } from '../core/vassal.js';
import { createLimit, type Limit } from '../monitors/limit.js';
import { kernelPageSize, processTree, readProcStat, readSmapsRollup, treeUsageSync } from './proc.js';

/** The sampler sleeps once nobody has asked for this long. */
export const ACTIVE_MS = 15_000;
/** A pass over the fleet starts at most this often. */
const MIN_PERIOD_MS = 250;
/** Longest stretch of /proc reading without yielding to the event loop. */
const SLICE_MS = 2;
/** Share of a core the sampler may use while awake, and on the first pass after waking. */
const DUTY = 0.05;
const CATCH_UP_DUTY = 0.5;
/**
 * A request that wakes the sampler waits this long at most for its first pass: enough for a fleet
 * of a few hundred workers; a larger one is answered with the figures the pass has reached and
 * the older ones, usage_age_ms saying how old. An answer within 100 ms matters more.
 */
const WAKE_WAIT_MS = 20;

export interface WorkerUsage {
  slot: number;
  pid: number;
  /** The worker and its descendants (only in detailed samples). */
  pids: number[];
  rss: number;
  cpuSeconds: number;
}

export interface VassalUsage {
  at: number;
  workers: WorkerUsage[];
  /** Every process of the vassal (only in detailed samples). */
  pids: number[];
  rss: number;
  cpuSeconds: number;
  /** Only in detailed samples (smaps_rollup is costly for the kernel to produce). */
  pss?: number;
  uss?: number;
}

/** The latest figures of one worker's process tree. */
export interface TreeFigures {
  rss: number;
  cpuSeconds: number;
  /** Epoch ms of the reading. */
  at: number;
}

/** A vassal's figures as the sampler last saw them. */
export interface LatestUsage {
  rss: number;
  cpuSeconds: number;
  /** Per worker slot, in order: its figures, undefined when not running or not measured yet. */
  figures: (TreeFigures | undefined)[];
  /** Epoch ms of the oldest figure included; undefined when a running worker has none yet, or none runs. */
  oldest: number | undefined;
}

export interface UsageSamplerOptions {
  /** Vassals sampled at once in detailed samples. */
  concurrency?: number;
  activeMs?: number;
}

interface Entry {
  /** The worker's start, to tell a reused pid from the worker that was measured. */
  startedAt: number | undefined;
  figures: TreeFigures;
  /** The pass that last saw the worker. */
  pass: number;
}

export class UsageSampler {
  private readonly byPid = new Map<number, Entry>();
  private readonly limit: Limit;
  private readonly activeMs: number;
  private askedAt = 0;
  private awake = false;
  private closed = false;
  private pass = 0;
  private warm: Promise<void> = Promise.resolve();

  constructor(private readonly vassals: () => Iterable<Vassal>, opts: UsageSamplerOptions = {}) {
    this.limit = createLimit(opts.concurrency ?? 16);
    this.activeMs = opts.activeMs ?? ACTIVE_MS;
  }

  /**
   * Someone wants figures: keeps the sampler awake, or wakes it. Resolves at once while it is
   * awake; after waking, once its first pass is done or WAKE_WAIT_MS have passed.
   */
  demand(): Promise<void> {
    this.askedAt = Date.now();
    if (this.awake || this.closed) return this.warm;
    this.awake = true;
    let firstPass!: () => void;
    const done = new Promise<void>((resolve) => (firstPass = resolve));
    this.warm = Promise.race([done, delay(WAKE_WAIT_MS)]);
    void this.run(firstPass);
    return this.warm;
  }

  /** True while nobody has asked recently: no /proc reading at all. */
  get sleeping(): boolean {
    return !this.awake;
  }

  /** The latest figures of a worker, undefined when it was not measured yet. */
  worker(pid: number, startedAt: number | undefined): TreeFigures | undefined {
    const e = this.byPid.get(pid);
    return e && e.startedAt === startedAt ? e.figures : undefined;
  }

  /** Running workers as last measured, in their order (an unmeasured worker counts 0). */
  latest(workers: readonly WorkerInfo[]): LatestUsage {
    const figures: (TreeFigures | undefined)[] = [];
    let rss = 0;
    let cpu = 0;
    let oldest: number | undefined;
    let complete = true;
    for (const w of workers) {
      const f = w.pid === undefined ? undefined : this.worker(w.pid, w.startedAt);
      figures.push(f);
      if (w.pid === undefined) continue;
      if (!f) {
        complete = false;
        continue;
      }
      rss += f.rss;
      cpu += f.cpuSeconds;
      if (oldest === undefined || f.at < oldest) oldest = f.at;
    }
    return { rss, cpuSeconds: cpu, figures, oldest: complete ? oldest : undefined };
  }

  /** A fresh reading with pss and uss, for one vassal (perf_metrics). */
  detailed(v: Vassal): Promise<VassalUsage> {
    const workers = v.workers().filter((w): w is typeof w & { pid: number } => w.pid !== undefined);
    return this.limit(() => measureDetailed(workers));
  }

  close(): void {
    this.closed = true;
  }

  private async run(firstPass: () => void): Promise<void> {
    try {
      const pageSize = await kernelPageSize();
      let duty = CATCH_UP_DUTY;
      while (!this.closed && Date.now() - this.askedAt < this.activeMs) {
        const began = Date.now();
        await this.sweep(pageSize, duty);
        firstPass();
        duty = DUTY;
        await delay(Math.max(0, MIN_PERIOD_MS - (Date.now() - began)));
      }
    } finally {
      firstPass();
      this.awake = false;
    }
  }

  /** One pass over every running worker, in slices; forgets workers no longer running. */
  private async sweep(pageSize: number, duty: number): Promise<void> {
    const pass = ++this.pass;
    const vassals = [...this.vassals()];
    let i = 0;
    while (i < vassals.length && !this.closed) {
      const t0 = performance.now();
      while (i < vassals.length && performance.now() - t0 < SLICE_MS) {
        for (const w of vassals[i++]!.workers()) {
          if (w.pid === undefined) continue;
          const u = treeUsageSync(w.pid, pageSize);
          if (!u) continue;
          const e = this.byPid.get(w.pid);
          if (e && e.startedAt === w.startedAt) {
            // In place: a pass over a large fleet should not leave thousands of objects behind.
            e.figures.rss = u.rss;
            e.figures.cpuSeconds = u.cpuSeconds;
            e.figures.at = Date.now();
            e.pass = pass;
          } else {
            this.byPid.set(w.pid, { startedAt: w.startedAt, figures: { rss: u.rss, cpuSeconds: u.cpuSeconds, at: Date.now() }, pass });
          }
        }
      }
      const spent = performance.now() - t0;
      if (i < vassals.length) await delay((spent * (1 - duty)) / duty);
    }
    for (const [pid, e] of this.byPid) if (e.pass !== pass) this.byPid.delete(pid);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function measureDetailed(workers: readonly { slot: number; pid: number }[]): Promise<VassalUsage> {
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
  const rollups = await Promise.all(pids.map(readSmapsRollup));
  let pss = 0;
  let uss = 0;
  for (const r of rollups) {
    if (!r) continue;
    pss += r.pss;
    uss += r.uss;
  }
  return {
    at: Date.now(),
    workers: per,
    pids,
    rss: per.reduce((a, w) => a + w.rss, 0),
    cpuSeconds: per.reduce((a, w) => a + w.cpuSeconds, 0),
    pss,
    uss,
  };
}
