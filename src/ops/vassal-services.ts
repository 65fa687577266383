/**
 * What ops runs beside each vassal: its monitor server (`monitor`, `monitor-offset`) and its
 * warmup (`warmup`). Both follow the vassal's life through the emperor's change events: the
 * server starts with the vassal, moves when a reload changes its address and stops with it; a
 * warmup runs each time the vassal becomes ready again.
 */
import type { Emperor } from '../core/emperor.js';
import type { Vassal, VassalState } from '../core/vassal.js';
import type { Logger } from '../log/logger.js';
import { healthOf } from './health.js';
import { formatAddress, monitorAddress, type MonitorAddressResult } from './monitor-address.js';
import { MonitorServer } from './monitor-server.js';
import { perfMetrics } from './perf-metrics.js';
import type { UsageSampler } from './usage.js';
import { Warmup, type WarmupStatus } from './warmup.js';

const RETRY_MS = 5000;
/** The status of every vassal without a warmup: one object, so stats can tell nothing changed. */
const NO_WARMUP: WarmupStatus = Object.freeze({ state: 'none' });
/** A warmup may take longer than becoming ready; it gets at least this long. */
const MIN_WARMUP_TIMEOUT_MS = 60_000;

export interface MonitorServerStatus {
  /** host:port as configured, `*` for every interface. */
  address: string;
  listening: boolean;
  error?: string;
}

interface Entry {
  vassal: Vassal;
  log: Logger;
  warmup: Warmup;
  lastState: VassalState | undefined;
  /** The configured address (or its error) the server should match. */
  want: string | undefined;
  server: MonitorServer | undefined;
  status: MonitorServerStatus | undefined;
  failures: number;
  retry: NodeJS.Timeout | undefined;
  /** Server changes, one at a time. */
  op: Promise<void>;
}

export class VassalServices {
  private readonly entries = new Map<Vassal, Entry>();
  private unsubscribe: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly emperor: Emperor,
    private readonly deps: { log: Logger; sampler: UsageSampler },
  ) {}

  start(): void {
    this.unsubscribe = this.emperor.onVassalChange((v) => this.onChange(v));
    for (const v of this.emperor.vassals.values()) this.onChange(v);
  }

  health(v: Vassal): string {
    return healthOf(v, this.warmup(v));
  }

  warmup(v: Vassal): WarmupStatus {
    return this.entries.get(v)?.warmup.status ?? NO_WARMUP;
  }

  monitorServer(v: Vassal): MonitorServerStatus | undefined {
    return this.entries.get(v)?.status;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.unsubscribe?.();
      const ops = [...this.entries.keys()].map((v) => this.drop(v));
      await Promise.all(ops);
    })();
    return this.closing;
  }

  private onChange(v: Vassal): void {
    if (this.closing) return;
    if (v.state === 'stopped') {
      void this.drop(v).catch((err: unknown) => this.deps.log.error(`monitor server: ${(err as Error).message}`, { vassal: v.name, event: 'monitor-server-error' }));
      return;
    }
    let e = this.entries.get(v);
    const wanted = monitorAddress(v.plan.config);
    if (!e) {
      // Most vassals have neither: they cost nothing here until a config asks for one.
      if ('none' in wanted && v.plan.config.warmup === undefined) return;
      const log = this.deps.log.child({ vassal: v.name });
      e = { vassal: v, log, warmup: new Warmup(log), lastState: undefined, want: undefined, server: undefined, status: undefined, failures: 0, retry: undefined, op: Promise.resolve() };
      this.entries.set(v, e);
    }
    const key = 'address' in wanted ? formatAddress(wanted.address) : 'error' in wanted ? `error: ${wanted.error}` : undefined;
    if (key !== e.want) {
      e.want = key;
      this.schedule(e, wanted);
    }
    this.followWarmup(e);
  }

  /** A warmup each time the vassal becomes ready again; none pending while it is not. */
  private followWarmup(e: Entry): void {
    const v = e.vassal;
    const prev = e.lastState;
    e.lastState = v.state;
    const url = v.plan.config.warmup;
    if (v.state === 'running' && prev !== 'running') {
      if (url === undefined) e.warmup.reset(undefined);
      else e.warmup.begin(url, Math.max(v.plan.config.readyTimeout * 1000, MIN_WARMUP_TIMEOUT_MS));
    } else if (v.state !== 'running' && v.state !== 'reloading' && v.state !== prev) {
      e.warmup.reset(url);
    }
  }

  private schedule(e: Entry, wanted: MonitorAddressResult): void {
    if (e.retry) clearTimeout(e.retry);
    e.retry = undefined;
    e.op = e.op.then(() => this.applyServer(e, wanted)).catch((err: unknown) => {
      e.log.error(`monitor server: ${(err as Error).message}`, { event: 'monitor-server-error' });
    });
  }

  private async applyServer(e: Entry, wanted: MonitorAddressResult): Promise<void> {
    const key = e.want;
    if (e.server) {
      const old = e.server;
      e.server = undefined;
      await old.close();
      e.log.info(`monitor server on ${formatAddress(old.address)} closed`, { event: 'monitor-server-closed' });
    }
    e.status = undefined;
    if (key === undefined || 'none' in wanted || this.entries.get(e.vassal) !== e) return;
    if ('error' in wanted) {
      e.status = { address: '-', listening: false, error: wanted.error };
      e.log.error(`no monitor server: ${wanted.error}`, { event: 'monitor-server-error' });
      return;
    }
    const address = formatAddress(wanted.address);
    const server = new MonitorServer(wanted.address, { health: () => this.health(e.vassal), perfMetrics: () => perfMetrics(e.vassal, this.deps.sampler) }, e.log);
    try {
      await server.start();
    } catch (err) {
      e.failures++;
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      e.status = { address, listening: false, error: why };
      const msg = `monitor server cannot listen on ${address}: ${why}; retrying every ${RETRY_MS / 1000} s`;
      if (e.failures === 1) e.log.error(msg, { event: 'monitor-server-error', address });
      else e.log.debug(msg, { event: 'monitor-server-error', address });
      e.retry = setTimeout(() => {
        if (e.want === key && this.entries.get(e.vassal) === e) this.schedule(e, wanted);
      }, RETRY_MS);
      return;
    }
    if (e.want !== key || this.entries.get(e.vassal) !== e) {
      await server.close();
      return;
    }
    e.failures = 0;
    e.server = server;
    e.status = { address, listening: true };
    e.log.info(`monitor server listening on ${address}`, { event: 'monitor-server', address, port: server.port });
  }

  private async drop(v: Vassal): Promise<void> {
    const e = this.entries.get(v);
    if (!e) return;
    this.entries.delete(v);
    e.want = undefined;
    e.warmup.cancel();
    if (e.retry) clearTimeout(e.retry);
    e.retry = undefined;
    e.op = e.op.then(async () => {
      const s = e.server;
      e.server = undefined;
      e.status = undefined;
      await s?.close();
    });
    await e.op;
  }
}
