/**
 * The stats document: uWSGI's Imperial Bureau of Statistics fields where they apply (id, pid,
 * born, last_mod, loyal, ready, accepting, respawns, uid, gid, monitor, on_demand, cursed,
 * blacklist), and ours (state, health, workers with pid and rss, restarts, backoff, last exit,
 * alarms). Built with JSON.stringify from plain data, so it is always valid JSON.
 *
 * Memory and CPU come from the background sampler's latest figures (src/ops/usage.ts), with their
 * age; nothing waits on /proc. The document is built in slices (src/ops/sliced.ts), and as text
 * it is handed out in pieces as it is built, so a fleet of 10,000 never holds the event loop (nor
 * a text of megabytes) for long.
 */
import type { Emperor } from '../core/emperor.js';
import type { Vassal, WorkerInfo } from '../core/vassal.js';
import { summarizeAlarms, type RecentAlarm } from './alarm-summary.js';
import type { NameOrder } from './name-order.js';
import { byLocale, mapSliced } from './sliced.js';
import type { EntryTexts, UsageSpan } from './stats-text.js';
import type { LatestUsage, UsageSampler } from './usage.js';
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
  /** Milliseconds since rss and cpu were read (the oldest of its workers' figures); null while a running worker has not been measured yet, or none runs. */
  usage_age_ms: number | null;
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
  /** The oldest usage_age_ms of the vassals; null when no vassal has figures. */
  usage_age_ms: number | null;
}

export interface StatsContext {
  emperor: Emperor;
  sampler: UsageSampler;
  services: VassalServices;
}

const sec = (ms: number | undefined): number => (ms === undefined ? 0 : Math.floor(ms / 1000));
const ownUid = process.getuid?.() ?? 0;
const ownGid = process.getgid?.() ?? 0;
const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);

type Head = Omit<StatsDocument, 'vassals' | 'blacklist' | 'invalid' | 'monitors' | 'usage_age_ms'>;
type Tail = Pick<StatsDocument, 'blacklist' | 'invalid' | 'monitors' | 'usage_age_ms'>;

/** Entries per piece of the text: pieces stay small, so none is a large object for the heap. */
const PIECE_ENTRIES = 64;

function headOf(ctx: StatsContext, now: number): Head {
  const { emperor } = ctx;
  return {
    version: emperorVersion(),
    pid: process.pid,
    uid: ownUid,
    gid: ownGid,
    cwd: process.cwd(),
    emperor: emperor.monitorIds(),
    emperor_tyrant: bit(emperor.opts.tyrant),
    started: sec(emperor.startedAt),
    uptime: sec(now - emperor.startedAt),
  };
}

function tailOf(ctx: StatsContext, now: number, oldest: number | null): Tail {
  const { emperor } = ctx;
  const blacklist: BlacklistEntry[] = [];
  for (const v of emperor.vassals.values()) {
    if (v.state !== 'backoff') continue;
    const next = nextStart(v.workers());
    blacklist.push({ id: v.name, throttle_level: next === undefined ? 0 : Math.max(0, next - now), attempt: v.crashLevel, next_attempt: sec(next) });
  }
  return {
    blacklist,
    invalid: [...emperor.invalid.entries()].map(([id, inv]) => ({ id, monitor: inv.spec.source, error: inv.error, since: sec(inv.since) })),
    monitors: emperor.monitorIds().map((id) => ({ id, error: emperor.monitorError(id) ?? null })),
    usage_age_ms: oldest,
  };
}

/** Every vassal in `list` through `each` (which says how old its figures are), in slices; the oldest age. */
async function eachVassal(ctx: StatsContext, now: number, list: readonly Vassal[], each: (inputs: VassalInputs) => number | null): Promise<number | null> {
  let oldest: number | null = null;
  await mapSliced(list, (v) => {
    const age = each(vassalInputs(ctx, v, now));
    if (age !== null && (oldest === null || age > oldest)) oldest = age;
  });
  return oldest;
}

export async function statsDocument(ctx: StatsContext, now = Date.now()): Promise<StatsDocument> {
  await ctx.sampler.demand();
  const head = headOf(ctx, now);
  const list = [...ctx.emperor.vassals.values()].sort((a, b) => byLocale(a.name, b.name));
  const vassals: VassalStats[] = [];
  const oldest = await eachVassal(ctx, now, list, (inputs) => {
    const s = entryOf(ctx, inputs, now);
    vassals.push(s);
    return s.usage_age_ms;
  });
  return { ...head, vassals, ...tailOf(ctx, now, oldest) };
}

/**
 * The document as JSON text, the same as JSON.stringify(statsDocument()), handed to `out` piece by
 * piece as it is built (a piece holds up to PIECE_ENTRIES vassals): no text of the whole fleet is
 * ever held at once. A vassal whose entry has not changed since the last request reuses its text.
 */
export async function writeStatsJson(ctx: StatsContext, kept: StatsTextCache, out: (piece: string) => void, now = Date.now()): Promise<void> {
  await ctx.sampler.demand();
  out(`${JSON.stringify(headOf(ctx, now)).slice(0, -1)},"vassals":[`);
  let batch: string[] = [];
  let first = true;
  const flush = (): void => {
    if (batch.length === 0) return;
    out((first ? '' : ',') + batch.join(','));
    first = false;
    batch = [];
  };
  const oldest = await eachVassal(ctx, now, kept.order.sorted(ctx.emperor.vassals), (inputs) => {
    const { value, age } = kept.texts.text(inputs, now, () => entryOf(ctx, inputs, now));
    batch.push(value);
    if (batch.length === PIECE_ENTRIES) flush();
    return age;
  });
  flush();
  out(`],${JSON.stringify(tailOf(ctx, now, oldest)).slice(1)}`);
}

/** What writeStatsJson keeps between requests. */
export interface StatsTextCache {
  texts: EntryTexts;
  order: NameOrder;
}

/** What a vassal's entry is made of, read once per request. */
export interface VassalInputs {
  vassal: Vassal;
  slots: WorkerInfo[];
  usage: LatestUsage;
  health: string;
  loyal: boolean;
  /** The alarm subsystem's own statistics, as it gives them. */
  alarms: unknown;
  warmup: WarmupStatus;
  monitorServer: MonitorServerStatus | undefined;
}

export function vassalInputs(ctx: StatsContext, v: Vassal, now: number): VassalInputs {
  const slots = v.workers();
  return {
    vassal: v,
    slots,
    usage: ctx.sampler.latest(slots),
    health: ctx.services.health(v),
    loyal: v.state === 'running' && v.readyAt !== undefined && now - v.readyAt >= ctx.emperor.opts.backoff.resetMs,
    alarms: v.alarmStats(),
    warmup: ctx.services.warmup(v),
    monitorServer: ctx.services.monitorServer(v),
  };
}

export function vassalStats(ctx: StatsContext, v: Vassal, now = Date.now()): VassalStats {
  return entryOf(ctx, vassalInputs(ctx, v, now), now);
}

function entryOf(ctx: StatsContext, inputs: VassalInputs, now: number): VassalStats {
  const { vassal: v, slots, usage } = inputs;
  const workers = workerStats(inputs);
  const pids: number[] = [];
  for (const w of workers) if (w.pid > 0) pids.push(w.pid);
  const ready = v.state === 'running';
  const next = nextStart(slots);
  const alarmStats = safeJson(inputs.alarms);
  const summary = summarizeAlarms(alarmStats);
  const last = v.lastExit;
  const plan = v.plan;
  return {
    id: v.name,
    pid: pids[0] ?? 0,
    pids,
    born: sec(v.bornAt),
    last_mod: sec(v.lastModAt),
    loyal: bit(inputs.loyal),
    ready: bit(ready),
    accepting: bit(ready),
    respawns: v.restarts,
    uid: plan.worker.uid ?? ownUid,
    gid: plan.worker.gid ?? ownGid,
    monitor: plan.spec.source,
    on_demand: v.onDemand ?? '',
    cursed: bit(v.state === 'stopping'),
    state: v.state,
    health: inputs.health,
    workers,
    rss: usage.rss,
    cpu: round(usage.cpuSeconds),
    usage_age_ms: usage.oldest === undefined ? null : Math.max(0, now - usage.oldest),
    restarts: v.restarts,
    reloads: v.reloads,
    backoff: v.state === 'backoff' || v.crashLevel > 0 ? { level: v.crashLevel, next_start: sec(next) } : null,
    last_exit: last ? { pid: last.pid, code: last.code, signal: last.signal, reason: last.reason, forced: last.forced, duration_ms: last.durationMs, ...(last.error ? { error: last.error } : {}) } : null,
    alarms: { fired: summary.fired, recent: summary.recent.slice(-10), stats: alarmStats ?? null },
    ready_since: sec(v.readyAt),
    config_error: v.configError ?? null,
    monitor_server: inputs.monitorServer ?? null,
    warmup: inputs.warmup,
  };
}

function workerStats({ slots, usage }: VassalInputs): WorkerStats[] {
  return slots.map((w, i) => {
    const u = usage.figures[i];
    return { id: w.slot, pid: w.pid ?? 0, rss: u?.rss ?? 0, cpu: round(u?.cpuSeconds ?? 0), ready: bit(w.ready), started: sec(w.startedAt), restart_at: sec(w.restartAt), exiled: bit(w.exiled) };
  });
}

/** What an entry says from after `"workers":` through `"usage_age_ms":`, as entryOf writes it. */
export const usageSpan: UsageSpan = (inputs) =>
  `${JSON.stringify(workerStats(inputs))},"rss":${JSON.stringify(inputs.usage.rss)},"cpu":${JSON.stringify(round(inputs.usage.cpuSeconds))},"usage_age_ms":`;

function nextStart(workers: readonly WorkerInfo[]): number | undefined {
  let next: number | undefined;
  for (const w of workers) if (w.restartAt !== undefined && (next === undefined || w.restartAt < next)) next = w.restartAt;
  return next;
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
