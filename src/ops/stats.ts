/**
 * The stats document: uWSGI's Imperial Bureau of Statistics fields where they apply (id, pid,
 * born, last_mod, loyal, ready, accepting, respawns, uid, gid, monitor, on_demand, cursed,
 * blacklist), and ours (state, health, workers with pid and rss, restarts, backoff, last exit,
 * alarms). Built with JSON.stringify from plain data, so it is always valid JSON.
 */
import type { Emperor } from '../core/emperor.js';
import type { Vassal } from '../core/vassal.js';
import { summarizeAlarms, type RecentAlarm } from './alarm-summary.js';
import type { UsageSampler } from './usage.js';
import type { MonitorServerStatus, VassalServices } from './vassal-services.js';
import { emperorVersion } from './version.js';
import type { WarmupStatus } from './warmup.js';

export interface WorkerStats {
  /** 1-based slot, stable across restarts (EMPEROR_WORKER_ID). */
  id: number;
  /** 0 while the slot waits to restart. */
  pid: number;
  /** Resident bytes of the worker and every process below it. */
  rss: number;
  /** CPU seconds (user + system) of the worker and every process below it. */
  cpu: number;
  ready: 0 | 1;
  /** Epoch seconds, 0 while not running. */
  started: number;
  /** Epoch seconds at which a slot in backoff respawns, 0 otherwise. */
  restart_at: number;
  exiled: 0 | 1;
}

export interface VassalStats {
  id: string;
  /** First worker's pid (uWSGI: the vassal's master), 0 when none runs. */
  pid: number;
  pids: number[];
  /** Epoch seconds. */
  born: number;
  last_mod: number;
  /** Ready and up since at least --throttle-reset: a crash now would restart at once. */
  loyal: 0 | 1;
  ready: 0 | 1;
  accepting: 0 | 1;
  respawns: number;
  uid: number;
  gid: number;
  /** The imperial monitor (config source) that announced the vassal. */
  monitor: string;
  /** On-demand socket (as bound: `127.0.0.1:8080`, a path), '' when none. */
  on_demand: string;
  /** Being stopped (uWSGI curses a vassal it asked to stop). */
  cursed: 0 | 1;
  state: string;
  /** What health_check answers. */
  health: string;
  workers: WorkerStats[];
  rss: number;
  cpu: number;
  restarts: number;
  reloads: number;
  backoff: { level: number; next_start: number } | null;
  last_exit: { pid: number; code: number | null; signal: string | null; reason: string; forced: boolean; duration_ms: number; error?: string } | null;
  alarms: { fired: number; recent: RecentAlarm[]; stats: unknown };
  /** Epoch seconds since which every worker is ready, 0 while not ready. */
  ready_since: number;
  config_error: string | null;
  monitor_server: MonitorServerStatus | null;
  warmup: WarmupStatus;
}

export interface BlacklistEntry {
  id: string;
  /** Milliseconds of the current backoff delay. */
  throttle_level: number;
  /** Crashes in a row. */
  attempt: number;
  /** Epoch seconds of the next start. */
  next_attempt: number;
}

export interface StatsDocument {
  version: string;
  pid: number;
  uid: number;
  gid: number;
  cwd: string;
  /** One entry per config source. */
  emperor: string[];
  emperor_tyrant: 0 | 1;
  started: number;
  uptime: number;
  vassals: VassalStats[];
  blacklist: BlacklistEntry[];
  /** Configs that could not be loaded and have no running version. */
  invalid: { id: string; monitor: string; error: string; since: number }[];
  monitors: { id: string; error: string | null }[];
}

export interface StatsContext {
  emperor: Emperor;
  sampler: UsageSampler;
  services: VassalServices;
}

const sec = (ms: number | undefined): number => (ms === undefined ? 0 : Math.floor(ms / 1000));
const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);

export async function statsDocument(ctx: StatsContext, now = Date.now()): Promise<StatsDocument> {
  const { emperor } = ctx;
  const vassals = await Promise.all([...emperor.vassals.values()].map((v) => vassalStats(ctx, v, now)));
  vassals.sort((a, b) => a.id.localeCompare(b.id));
  const blacklist: BlacklistEntry[] = [];
  for (const v of emperor.vassals.values()) {
    if (v.state !== 'backoff') continue;
    const next = nextStart(v);
    blacklist.push({ id: v.name, throttle_level: next === undefined ? 0 : Math.max(0, next - now), attempt: v.crashLevel, next_attempt: sec(next) });
  }
  return {
    version: await emperorVersion(),
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: process.cwd(),
    emperor: emperor.monitorIds(),
    emperor_tyrant: bit(emperor.opts.tyrant),
    started: sec(emperor.startedAt),
    uptime: sec(now - emperor.startedAt),
    vassals,
    blacklist,
    invalid: [...emperor.invalid.entries()].map(([id, inv]) => ({ id, monitor: inv.spec.source, error: inv.error, since: sec(inv.since) })),
    monitors: emperor.monitorIds().map((id) => ({ id, error: emperor.monitorError(id) ?? null })),
  };
}

export async function vassalStats(ctx: StatsContext, v: Vassal, now = Date.now()): Promise<VassalStats> {
  const usage = await ctx.sampler.sample(v);
  const rssBy = new Map(usage.workers.map((w) => [w.pid, w]));
  const workers: WorkerStats[] = v.workers().map((w) => {
    const u = w.pid === undefined ? undefined : rssBy.get(w.pid);
    return { id: w.slot, pid: w.pid ?? 0, rss: u?.rss ?? 0, cpu: round(u?.cpuSeconds ?? 0), ready: bit(w.ready), started: sec(w.startedAt), restart_at: sec(w.restartAt), exiled: bit(w.exiled) };
  });
  const pids = workers.filter((w) => w.pid > 0).map((w) => w.pid);
  const ready = v.state === 'running';
  const next = nextStart(v);
  const alarmStats = safeJson(v.alarmStats());
  const summary = summarizeAlarms(alarmStats);
  const last = v.lastExit;
  const plan = v.plan;
  return {
    id: v.name,
    pid: pids[0] ?? 0,
    pids,
    born: sec(v.bornAt),
    last_mod: sec(v.lastModAt),
    loyal: bit(ready && v.readyAt !== undefined && now - v.readyAt >= ctx.emperor.opts.backoff.resetMs),
    ready: bit(ready),
    accepting: bit(ready),
    respawns: v.restarts,
    uid: plan.worker.uid ?? process.getuid?.() ?? 0,
    gid: plan.worker.gid ?? process.getgid?.() ?? 0,
    monitor: plan.spec.source,
    on_demand: v.onDemand ?? '',
    cursed: bit(v.state === 'stopping'),
    state: v.state,
    health: ctx.services.health(v),
    workers,
    rss: usage.rss,
    cpu: round(usage.cpuSeconds),
    restarts: v.restarts,
    reloads: v.reloads,
    backoff: v.state === 'backoff' || v.crashLevel > 0 ? { level: v.crashLevel, next_start: sec(next) } : null,
    last_exit: last ? { pid: last.pid, code: last.code, signal: last.signal, reason: last.reason, forced: last.forced, duration_ms: last.durationMs, ...(last.error ? { error: last.error } : {}) } : null,
    alarms: { fired: summary.fired, recent: summary.recent.slice(-10), stats: alarmStats ?? null },
    ready_since: sec(v.readyAt),
    config_error: v.configError ?? null,
    monitor_server: ctx.services.monitorServer(v) ?? null,
    warmup: ctx.services.warmup(v),
  };
}

function nextStart(v: Vassal): number | undefined {
  const times = v.workers().map((w) => w.restartAt).filter((t): t is number => t !== undefined);
  return times.length > 0 ? Math.min(...times) : undefined;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A plugin's stats, as plain JSON data (cycles, BigInts and functions cannot break the document). */
function safeJson(x: unknown): unknown {
  if (x === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(x, (_k, val: unknown) => (typeof val === 'bigint' ? Number(val) : val))) as unknown;
  } catch {
    return { error: 'alarm stats are not serializable' };
  }
}
