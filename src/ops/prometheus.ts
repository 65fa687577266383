/**
 * The fleet in the Prometheus text format (GET /metrics, `emperor metrics`). A Registry of our
 * own whose metrics fill themselves from one stats document per scrape, through collect()
 * callbacks: nothing is updated between scrapes, nothing global is touched.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { VassalState } from '../core/vassal.js';
import type { StatsDocument } from './stats.js';

/** Every metric of one scrape reads the document made at its start. */
const SCRAPE_MS = 1000;
const STATES: readonly (VassalState | 'invalid')[] = ['waiting', 'starting', 'running', 'reloading', 'backoff', 'stopping', 'stopped', 'exiled', 'invalid'];

export class FleetMetrics {
  readonly registry = new Registry();
  private current: { at: number; value: Promise<StatsDocument> } | undefined;

  constructor(private readonly stats: () => Promise<StatsDocument>) {
    const doc = (): Promise<StatsDocument> => this.doc();
    const registers = [this.registry];

    new Gauge({
      name: 'emperor_info', help: 'Constant 1, labelled with the emperor version.', labelNames: ['version'], registers,
      async collect() { this.reset(); this.set({ version: (await doc()).version }, 1); },
    });
    new Gauge({
      name: 'emperor_start_time_seconds', help: 'When the emperor started, in seconds since the epoch.', registers,
      async collect() { this.set((await doc()).started); },
    });
    new Gauge({
      name: 'emperor_vassals', help: 'Vassals by state (invalid: config rejected, nothing running).', labelNames: ['state'], registers,
      async collect() {
        const d = await doc();
        this.reset();
        for (const s of STATES) this.set({ state: s }, s === 'invalid' ? d.invalid.length : d.vassals.filter((v) => v.state === s).length);
      },
    });
    new Gauge({
      name: 'emperor_monitor_up', help: '1 while a config source is readable, 0 while it reports an error.', labelNames: ['monitor'], registers,
      async collect() { this.reset(); for (const m of (await doc()).monitors) this.set({ monitor: m.id }, m.error === null ? 1 : 0); },
    });
    const perVassal = (name: string, help: string, pick: (v: StatsDocument['vassals'][number]) => number): void => {
      new Gauge({
        name, help, labelNames: ['vassal'], registers,
        async collect() { this.reset(); for (const v of (await doc()).vassals) this.set({ vassal: v.id }, pick(v)); },
      });
    };
    const perVassalTotal = (name: string, help: string, pick: (v: StatsDocument['vassals'][number]) => number): void => {
      new Counter({
        name, help, labelNames: ['vassal'], registers,
        async collect() { this.reset(); for (const v of (await doc()).vassals) this.inc({ vassal: v.id }, pick(v)); },
      });
    };
    new Gauge({
      name: 'emperor_vassal_state', help: '1 for the state the vassal is in, 0 for the others.', labelNames: ['vassal', 'state'], registers,
      async collect() {
        const d = await doc();
        this.reset();
        for (const v of d.vassals) for (const s of STATES) if (s !== 'invalid') this.set({ vassal: v.id, state: s }, v.state === s ? 1 : 0);
        for (const inv of d.invalid) this.set({ vassal: inv.id, state: 'invalid' }, 1);
      },
    });
    perVassal('emperor_vassal_up', '1 while every worker of the vassal is ready.', (v) => v.ready);
    perVassal('emperor_vassal_healthy', '1 while health_check would answer OK (ready and warmed up).', (v) => (v.health === 'OK' ? 1 : 0));
    perVassal('emperor_vassal_workers', 'Running worker processes.', (v) => v.pids.length);
    perVassal('emperor_vassal_resident_memory_bytes', 'Resident memory of the workers and every process below them.', (v) => v.rss);
    perVassal('emperor_vassal_backoff_level', 'Crashes in a row (0 when healthy).', (v) => v.backoff?.level ?? 0);
    perVassal('emperor_vassal_start_time_seconds', 'When the vassal was created, in seconds since the epoch.', (v) => v.born);
    perVassalTotal('emperor_vassal_restarts_total', 'Worker restarts after a crash.', (v) => v.restarts);
    perVassalTotal('emperor_vassal_reloads_total', 'Reloads (new config, touch, SIGHUP).', (v) => v.reloads);
    perVassalTotal('emperor_vassal_cpu_seconds_total', 'CPU time (user + system) of the running workers and every process below them.', (v) => v.cpu);
    perVassalTotal('emperor_vassal_alarms_fired_total', 'Alarm firings.', (v) => v.alarms.fired);
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** One scrape: every metric reads the same stats document. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private doc(): Promise<StatsDocument> {
    const now = Date.now();
    if (!this.current || now - this.current.at > SCRAPE_MS) {
      const value = this.stats();
      this.current = { at: now, value };
      value.catch(() => (this.current = undefined));
    }
    return this.current.value;
  }
}
