/**
 * The emperor: runs the monitors, reconciles what they see into vassals, and serializes the
 * operations on each vassal (never across vassals: one vassal's slow stop or crash loop never
 * delays another). A new config is loaded and planned before anything is stopped, so a bad config
 * never kills a good running vassal.
 */
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { loadVassalConfig } from '../config/load.js';
import type { RawConfig } from '../config/types.js';
import { describeError, type EmperorError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { OutputSink } from '../log/output.js';
import { createVassalAlarms } from '../alarms/for-vassal.js';
import type { Isolation } from '../isolation/isolation.js';
import { createMonitor } from '../monitors/registry.js';
import type { Monitor, MonitorContext, MonitorEvent, VassalSpec } from '../monitors/types.js';
import { PluginTable } from '../plugin-table.js';
import { UWSGI_DEFAULTS, UwsgiRuntime, type UwsgiOptions } from '../uwsgi/runtime.js';
import { planVassal, type PlanContext, type VassalPlan } from './plan.js';
import { Reconciler, type Change } from './reconcile.js';
import { TurnBudget } from './turn-budget.js';
import type { BackoffSettings } from './throttle.js';
import { Vassal, type AlarmHost, type VassalAlarms } from './vassal.js';

export interface EmperorOptions {
  monitors: readonly string[];
  freq: number;
  extraExtensions: readonly string[];
  backoff: BackoffSettings;
  includes: readonly RawConfig[];
  sets: readonly (readonly [string, string])[];
  settleMs: number;
  maxConfigBytes: number;
  nodeName: string;
  stateDir: string;
  tyrant: boolean;
  tyrantNofollow: boolean;
  log: Logger;
  output: OutputSink;
  plugins: PluginTable;
  /** Lines kept per vassal for `emperor logs`. */
  recentLines?: number;
  /** Real uWSGI vassals (`[uwsgi]` without `command`); default: UWSGI_DEFAULTS, no inherits. */
  uwsgi?: UwsgiOptions;
  /** cgroups and tyrant mode (src/isolation); without it a `cgroup` key is refused. */
  isolation?: Isolation;
  /** Builds a vassal's alarm subsystem; default: src/alarms for configs that declare alarms. */
  createAlarms?: (host: AlarmHost, plugins: PluginTable) => Promise<VassalAlarms | undefined>;
}

/** A vassal whose config could not be loaded and that has no running version. */
export interface InvalidVassal {
  spec: VassalSpec;
  error: string;
  since: number;
}

type Desired = { spec: VassalSpec } | { remove: true; reason: string };

export class Emperor {
  readonly vassals = new Map<string, Vassal>();
  readonly invalid = new Map<string, InvalidVassal>();
  readonly startedAt = Date.now();
  private readonly reconciler = new Reconciler();
  private readonly monitors: Monitor[] = [];
  private readonly monitorErrors = new Map<string, string>();
  private readonly pending = new Map<string, { desired: Desired | undefined }>();
  /** Spreads a burst of vassal changes over turns of the event loop. */
  private readonly turns = new TurnBudget();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly isRoot = process.getuid?.() === 0;
  private idleWaiters: Array<() => void> = [];
  private uwsgiRuntime: UwsgiRuntime | undefined;
  private readonly vassalListeners = new Set<(v: Vassal) => void>();

  constructor(readonly opts: EmperorOptions) {
    this.log = opts.log;
  }

  /** Creates every monitor (throwing a USAGE error for a bad argument) and starts them. */
  async start(): Promise<void> {
    const ctx: MonitorContext = {
      freq: this.opts.freq,
      extraExtensions: this.opts.extraExtensions,
      nodeName: this.opts.nodeName,
      stateDir: this.opts.stateDir,
      tyrant: this.opts.tyrant,
      tyrantNofollow: this.opts.tyrantNofollow,
      settleMs: this.opts.settleMs,
      maxConfigBytes: this.opts.maxConfigBytes,
      log: this.log,
    };
    for (const arg of this.opts.monitors) {
      this.monitors.push(await createMonitor(arg, { ...ctx, log: this.log.child({ monitor: arg }) }, this.opts.plugins));
    }
    for (const m of this.monitors) this.loops.push(this.run(m));
    this.log.info(`governing ${this.monitors.length} monitor${this.monitors.length === 1 ? '' : 's'}: ${this.monitors.map((m) => m.id).join(', ')}`, { event: 'start', monitors: this.monitors.map((m) => m.id) });
  }

  /**
   * Calls back when a vassal is created and on each change of its state, until it is stopped
   * (ops: stats, per-vassal monitor servers, warmup). Returns an unsubscribe function.
   */
  onVassalChange(fn: (v: Vassal) => void): () => void {
    this.vassalListeners.add(fn);
    return () => this.vassalListeners.delete(fn);
  }

  monitorIds(): string[] {
    return this.monitors.map((m) => m.id);
  }

  monitorError(id: string): string | undefined {
    return this.monitorErrors.get(id);
  }

  /** Reloads one vassal with its current config (`emperor touch`). */
  touch(name: string): boolean {
    const v = this.vassals.get(name);
    const spec = v?.plan.spec ?? this.invalid.get(name)?.spec;
    if (!spec) return false;
    this.request(name, { spec });
    return true;
  }

  /** Stops and forgets one vassal until its monitor announces it again (`emperor destroy`). */
  destroy(name: string): boolean {
    if (!this.vassals.has(name) && !this.invalid.has(name)) return false;
    this.reconciler.forget(name);
    this.request(name, { remove: true, reason: 'destroyed by command' });
    return true;
  }

  /** SIGHUP: reload every vassal. */
  reloadAll(): number {
    let n = 0;
    for (const name of this.vassals.keys()) if (this.touch(name)) n++;
    return n;
  }

  /** Resolves once no vassal operation is queued or running (tests, benchmarks, shutdown). */
  idle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops every vassal gracefully, then the monitors. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  /** SIGKILL to every worker now: the emperor is going down hard. */
  kill(): void {
    this.abort.abort();
    for (const v of this.vassals.values()) v.kill();
  }

  private async doClose(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
    // Queued operations are dropped; running ones finish, then every vassal stops.
    for (const p of this.pending.values()) p.desired = undefined;
    await Promise.all([...this.vassals.values()].map((v) => v.stop()));
    this.vassals.clear();
    await this.uwsgiRuntime?.close();
    this.log.info('all vassals stopped', { event: 'stopped' });
  }

  private async run(m: Monitor): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        for await (const ev of m.events(this.abort.signal)) {
          failures = 0;
          this.onEvent(m.id, ev);
        }
        return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        // A monitor should report and retry on its own; one that throws is restarted with backoff,
        // and its vassals keep running meanwhile.
        const delay = Math.min(1000 * 2 ** failures++, 30_000);
        this.monitorErrors.set(m.id, describeError(err));
        this.log.error(`monitor failed: ${describeError(err)}; restarting it in ${delay} ms`, { monitor: m.id, event: 'monitor-error' });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private onEvent(monitorId: string, ev: MonitorEvent): void {
    if (ev.type === 'error') {
      const fields = { monitor: monitorId, event: 'monitor-error', ...(ev.name ? { vassal: ev.name } : {}) };
      if (ev.name === undefined) this.monitorErrors.set(monitorId, describeError(ev.error));
      const keeps = ev.name && this.vassals.has(ev.name) ? ' (the running version keeps running)' : '';
      this.log.error(describeError(ev.error) + keeps, fields);
      return;
    }
    this.monitorErrors.delete(monitorId);
    for (const change of this.reconciler.apply(monitorId, ev)) this.onChange(change);
  }

  private onChange(c: Change): void {
    switch (c.kind) {
      case 'add':
      case 'change':
        this.request(c.spec.name, { spec: c.spec });
        return;
      case 'remove':
        this.request(c.name, { remove: true, reason: 'config removed' });
        return;
      case 'conflict':
        this.log.error(`vassal name '${c.spec.name}' from ${c.spec.source} is already provided by ${c.owner}; ignored`, { event: 'conflict', vassal: c.spec.name });
        return;
    }
  }

  /** Queues the desired state of one vassal; a newer request replaces a queued one. */
  private request(name: string, desired: Desired): void {
    const entry = this.pending.get(name);
    if (entry) {
      entry.desired = desired;
      return;
    }
    const e = { desired: desired as Desired | undefined };
    this.pending.set(name, e);
    void this.drain(name, e);
  }

  /**
   * Runs `fn` (an answer to a request, built in slices) with vassal changes paced to one per turn
   * of the event loop, so its slices are not kept apart by a burst of vassal starts.
   */
  answering<T>(fn: () => Promise<T>): Promise<T> {
    return this.turns.held(fn);
  }

  private async drain(name: string, e: { desired: Desired | undefined }): Promise<void> {
    while (e.desired) {
      await this.turns.enter();
      // The latest request: one that came while this waited its turn replaced the queued one.
      const d = e.desired;
      e.desired = undefined;
      try {
        if ('remove' in d) await this.removeVassal(name, d.reason);
        else await this.upsertVassal(d.spec);
      } catch (err) {
        this.log.error(`unexpected failure handling vassal: ${describeError(err)}`, { vassal: name, event: 'internal-error', stack: (err as Error).stack });
      }
    }
    this.pending.delete(name);
    if (this.pending.size === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of w) r();
    }
  }

  private async removeVassal(name: string, reason: string): Promise<void> {
    this.invalid.delete(name);
    const v = this.vassals.get(name);
    if (!v) return;
    this.log.info(`stopping (${reason})`, { vassal: name, event: 'stop' });
    await v.stop();
    this.vassals.delete(name);
    await this.uwsgiRuntime?.forget(name);
    this.log.info('stopped', { vassal: name, event: 'stopped' });
  }

  private async upsertVassal(spec: VassalSpec): Promise<void> {
    if (this.closing) return;
    let current = this.vassals.get(spec.name);
    const vlog = this.log.child({ vassal: spec.name });
    // Tyrant mode: a vassal runs as its config's owner, so a new owner means a new vassal; the old
    // one stops before anything of the new config is trusted.
    if (current && this.opts.isolation?.stopsOnChange(current.plan.spec, spec)) {
      vlog.warn('the owner of its config changed: stopping it; it starts again as the new owner', { event: 'owner-changed', uid: spec.uid, gid: spec.gid });
      await this.removeVassal(spec.name, 'the owner of its config changed');
      current = undefined;
    }
    let plan: VassalPlan;
    try {
      plan = await this.plan(spec);
    } catch (err) {
      const msg = describeError(err);
      if (current) {
        current.configError = msg;
        vlog.error(`new config rejected, the running version keeps running: ${msg}`, { event: 'config-error', code: (err as EmperorError).code });
      } else {
        this.invalid.set(spec.name, { spec, error: msg, since: Date.now() });
        vlog.error(`config rejected: ${msg}`, { event: 'config-error', code: (err as EmperorError).code });
      }
      return;
    }
    this.invalid.delete(spec.name);
    if (current) {
      await current.reload(plan);
      return;
    }
    const v = new Vassal(plan, {
      log: vlog,
      output: this.opts.output,
      backoff: this.opts.backoff,
      recentLines: this.opts.recentLines,
      onChange: (x: Vassal) => this.emitVassalChange(x),
      ...(this.opts.isolation ? { isolation: this.opts.isolation.forVassal(spec.name) } : {}),
      createAlarms: (host: AlarmHost) => (this.opts.createAlarms ?? createVassalAlarms)(host, this.opts.plugins),
    });
    this.vassals.set(spec.name, v);
    this.emitVassalChange(v);
    vlog.info(`starting ${plan.config.processes} × ${plan.config.command.join(' ')}`, { event: 'start', source: spec.source });
    try {
      await v.start();
    } catch (err) {
      const msg = describeError(err);
      vlog.error(`cannot start: ${msg}`, { event: 'start-error' });
      await v.stop();
      this.vassals.delete(spec.name);
      this.invalid.set(spec.name, { spec, error: msg, since: Date.now() });
    }
  }

  private emitVassalChange(v: Vassal): void {
    for (const fn of this.vassalListeners) {
      try {
        fn(v);
      } catch (err) {
        this.log.error(`vassal change listener failed: ${describeError(err)}`, { vassal: v.name, event: 'internal-error' });
      }
    }
  }

  private async plan(spec: VassalSpec): Promise<VassalPlan> {
    const loaded = loadVassalConfig(spec.config, {
      name: spec.name,
      hostname: this.opts.nodeName,
      // Tyrant mode: $(VAR) sees the vassal's own base environment, never the root emperor's.
      env: this.opts.isolation ? await this.opts.isolation.placeholderEnv(spec) : process.env,
      includes: this.opts.includes,
      sets: this.opts.sets,
      pluginKeys: this.opts.plugins.userTriggerKeys(),
      cwd: process.cwd(),
      ...(this.opts.isolation ? { computed: this.opts.isolation.computed() } : {}),
    });
    const ctx: PlanContext = {
      env: process.env,
      defaultCwd: spec.config.path ? dirname(spec.config.path) : process.cwd(),
      isRoot: this.isRoot,
      ...this.opts.isolation?.planContext(),
    };
    if (loaded.kind === 'uwsgi') {
      // A uWSGI instance: the uwsgi binary on the config, planned like any vassal from there.
      this.uwsgiRuntime ??= new UwsgiRuntime(this.opts.uwsgi ?? { ...UWSGI_DEFAULTS, inherits: [] });
      return this.uwsgiRuntime.plan(spec, loaded.config, {
        includes: this.opts.includes.map((inc) => inc.origin),
        sets: this.opts.sets,
        env: ctx.env,
        cwd: ctx.defaultCwd,
        cgroups: ctx.cgroups !== undefined,
        planBase: (config, env) => planVassal(spec, config, { ...ctx, env }),
      });
    }
    return planVassal(spec, loaded.config, ctx);
  }
}

export function defaultNodeName(): string {
  return hostname();
}
