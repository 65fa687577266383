/**
 * One vassal: an object in the emperor (not a process of its own) that owns its workers, their
 * output, its alarm subsystem and its restart backoff. The emperor serializes the calls it makes
 * (start, reload, stop); worker exits arrive at any time and are checked against what is current.
 */
import type { Logger } from '../log/logger.js';
import { FileOutput, type OutputSink } from '../log/output.js';
import { describeExit, EXILE_CODE, formatDuration, type ExitResult } from './exit.js';
import type { VassalPlan } from './plan.js';
import { describeProbe, waitReady } from './ready.js';
import { Ring } from './ring.js';
import { Backoff, type BackoffSettings } from './throttle.js';
import { Worker } from './worker.js';

export type VassalState = 'starting' | 'running' | 'reloading' | 'backoff' | 'stopping' | 'stopped' | 'exiled';

/** What the vassal tells its alarm subsystem (src/alarms). */
export interface VassalAlarms {
  onLine(line: string, pid: number): void;
  onWorkerExit(exit: { pid: number; code: number | null; signal: NodeJS.Signals | null; lastLines: readonly string[]; expected: boolean }): void;
  onBackoff(message: string): void;
  stats(): unknown;
  close(): Promise<void>;
}

export interface AlarmHost {
  vassal: string;
  log: Logger;
  signalWorkers(signal: NodeJS.Signals | number): void;
  pids(): number[];
  plan: VassalPlan;
}

export interface VassalDeps {
  log: Logger;
  output: OutputSink;
  backoff: BackoffSettings;
  /** Builds the alarm subsystem for a plan; throws for a config it rejects. */
  createAlarms?: (host: AlarmHost) => Promise<VassalAlarms | undefined>;
  /** Runs after SIGKILL of a worker's group: kills what left the group (its cgroup). */
  onKill?: (plan: VassalPlan) => void;
  /** Called on every state change, for stats and events. */
  onChange?: (v: Vassal) => void;
  /** Lines kept for `emperor logs`. */
  recentLines?: number;
}

interface Slot {
  worker: Worker | undefined;
  ready: boolean;
  exiled: boolean;
  restartTimer: NodeJS.Timeout | undefined;
}

export interface RecentLine {
  time: number;
  pid: number;
  line: string;
}

const SEGFAULT_CONTEXT_LINES = 10;

export class Vassal {
  readonly name: string;
  plan: VassalPlan;
  readonly bornAt = Date.now();
  lastModAt = Date.now();
  restarts = 0;
  reloads = 0;
  lastExit: ExitResult | undefined;
  /** The last config that could not be loaded while this version kept running. */
  configError: string | undefined;
  readyAt: number | undefined;
  readonly recent: Ring<RecentLine>;

  private slots: Slot[] = [];
  private readonly backoff: Backoff;
  private alarms: VassalAlarms | undefined;
  private logto: FileOutput | undefined;
  private stopping = false;
  private reloading = false;
  private stopped: Promise<void> | undefined;
  private abort = new AbortController();
  private currentState: VassalState = 'starting';
  private startBegan = Date.now();
  private readonly lineListeners = new Set<(l: RecentLine) => void>();

  constructor(plan: VassalPlan, private readonly deps: VassalDeps) {
    this.name = plan.spec.name;
    this.plan = plan;
    this.backoff = new Backoff(deps.backoff);
    this.recent = new Ring(deps.recentLines ?? 500);
  }

  get state(): VassalState {
    return this.currentState;
  }

  get pids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.alive ? [s.worker.pid] : []));
  }

  get ready(): boolean {
    return this.currentState === 'running';
  }

  alarmStats(): unknown {
    return this.alarms?.stats();
  }

  /** Follows the vassal's output (`emperor logs -f`); returns an unsubscribe function. */
  onOutput(fn: (l: RecentLine) => void): () => void {
    this.lineListeners.add(fn);
    return () => this.lineListeners.delete(fn);
  }

  /** Prepares alarms and log file for the current plan, then spawns every worker. */
  async start(): Promise<void> {
    await this.attach(this.plan);
    this.startBegan = Date.now();
    this.readyAt = undefined;
    this.slots = Array.from({ length: this.plan.config.processes }, () => newSlot());
    for (const slot of this.slots) this.spawn(slot);
    this.update();
  }

  /** Applies a new plan the way its config asks: restart, rolling, or a signal. */
  async reload(plan: VassalPlan): Promise<void> {
    if (this.stopping) return;
    this.reloads++;
    this.lastModAt = Date.now();
    this.configError = undefined;
    this.backoff.reset();
    const mode = plan.config.reload;
    this.deps.log.info(`reloading (${mode.mode === 'signal' ? `signal ${mode.signal}` : mode.mode})`, { event: 'reload', mode: mode.mode });
    this.reloading = true;
    this.update();
    try {
      if (mode.mode === 'signal') await this.reloadBySignal(plan, mode.signal);
      else if (mode.mode === 'rolling') await this.reloadRolling(plan);
      else await this.reloadRestart(plan);
    } finally {
      this.reloading = false;
      this.update();
    }
  }

  /** Stops every worker (stop-signal, SIGKILL after stop-timeout) and releases everything. */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  /** SIGKILL to every worker group at once: the emperor is going down hard. */
  kill(): void {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.worker?.kill();
    }
  }

  signalWorkers(sig: NodeJS.Signals | number): number {
    let n = 0;
    for (const s of this.slots) if (s.worker?.signal(sig)) n++;
    return n;
  }

  /** Starts workers in backoff now and forgets the crash history (`emperor unthrottle`). */
  unthrottle(): void {
    this.backoff.reset();
    for (const s of this.slots) {
      if (s.restartTimer) {
        clearTimeout(s.restartTimer);
        s.restartTimer = undefined;
        this.spawn(s);
      }
    }
    this.update();
  }

  private async doStop(): Promise<void> {
    this.stopping = true;
    this.update();
    this.abort.abort();
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
    await this.stopWorkers(this.slots, this.plan);
    await this.detach();
    this.currentState = 'stopped';
    this.deps.onChange?.(this);
  }

  private async reloadRestart(plan: VassalPlan): Promise<void> {
    const old = this.slots;
    for (const s of old) if (s.restartTimer) clearTimeout(s.restartTimer);
    this.slots = [];
    await this.stopWorkers(old, this.plan);
    if (this.stopping) return;
    await this.detach();
    this.plan = plan;
    await this.start();
  }

  /** New workers one by one, each ready before an old one stops: the service never goes dark. */
  private async reloadRolling(plan: VassalPlan): Promise<void> {
    const oldPlan = this.plan;
    await this.detach();
    this.plan = plan;
    await this.attach(plan);
    const count = plan.config.processes;
    for (let i = 0; i < Math.max(count, this.slots.length); i++) {
      if (this.stopping) return;
      const old = this.slots[i];
      if (i >= count) {
        if (old) await this.stopWorkers([old], oldPlan);
        continue;
      }
      const fresh = newSlot();
      const readyOk = this.spawn(fresh);
      if (old?.restartTimer) clearTimeout(old.restartTimer);
      if (!(await readyOk)) {
        this.deps.log.error(`rolling reload: new worker ${i + 1}/${count} did not become ready; keeping the remaining old workers`, { event: 'reload-failed' });
        await this.stopWorkers([fresh], plan);
        return;
      }
      this.slots[i] = fresh;
      if (old) await this.stopWorkers([old], oldPlan);
    }
    this.slots = this.slots.slice(0, count);
  }

  private async reloadBySignal(plan: VassalPlan, sig: NodeJS.Signals): Promise<void> {
    this.plan = plan;
    this.signalWorkers(sig);
    const count = plan.config.processes;
    while (this.slots.length < count) {
      const s = newSlot();
      this.slots.push(s);
      this.spawn(s);
    }
    if (this.slots.length > count) {
      const surplus = this.slots.splice(count);
      await this.stopWorkers(surplus, plan);
    }
  }

  /** Spawns a worker into a slot; resolves true once it is ready, false if it never is. */
  private spawn(slot: Slot): Promise<boolean> {
    slot.restartTimer = undefined;
    slot.ready = false;
    const plan = this.plan;
    const worker = Worker.spawn(plan.worker, (line, w) => this.onLine(line, w.pid));
    slot.worker = worker;
    this.backoff.started();
    this.deps.log.debug(`worker ${worker.pid} spawned`, { event: 'spawn', pid: worker.pid });
    void worker.exited.then((r) => this.onWorkerExit(slot, worker, r));
    const probe = plan.config.ready;
    return waitReady(probe, {
      signal: this.abort.signal,
      timeoutMs: plan.config.readyTimeout * 1000,
      stillAlive: () => worker.alive && slot.worker === worker,
    }).then(
      () => {
        if (slot.worker !== worker || !worker.alive) return false;
        slot.ready = true;
        this.update();
        return true;
      },
      (err: Error) => {
        if (slot.worker === worker && worker.alive && !this.stopping) {
          this.deps.log.warn(`worker ${worker.pid} not ready: ${err.message}; killing it`, { event: 'not-ready', pid: worker.pid, probe: describeProbe(probe) });
          void worker.stop(plan.config.stopSignal, plan.config.stopTimeout * 1000, () => this.deps.onKill?.(plan));
        }
        return false;
      },
    );
  }

  private onWorkerExit(slot: Slot, worker: Worker, r: ExitResult): void {
    this.lastExit = r;
    const expected = this.stopping || slot.worker !== worker || r.reason === 'stopped' || r.reason === 'killed';
    if (this.alarms) {
      const lastLines = this.recent.toArray().filter((l) => l.pid === r.pid).slice(-SEGFAULT_CONTEXT_LINES).map((l) => l.line);
      this.alarms.onWorkerExit({ pid: r.pid, code: r.code, signal: r.signal, lastLines, expected: expected && r.reason !== 'killed' });
    }
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    if (this.stopping) return;
    if (r.code === EXILE_CODE) {
      slot.exiled = true;
      this.deps.log.info(`worker ${r.pid} exited with code ${EXILE_CODE}: not respawning`, { event: 'exiled', pid: r.pid });
      this.update();
      return;
    }
    const delay = this.backoff.crashed();
    this.restarts++;
    const when = delay === 0 ? 'restarting now' : `restarting in ${formatDuration(delay)} (crash loop: ${this.backoff.level} crashes in a row)`;
    this.deps.log.warn(`worker ${r.pid} ${describeExit(r)}; ${when}`, { event: 'crash', pid: r.pid, code: r.code, signal: r.signal, delayMs: delay, crashes: this.backoff.level });
    if (delay === 0) {
      this.spawn(slot);
    } else {
      this.alarms?.onBackoff(`vassal ${this.name} is crash-looping: worker ${describeExit(r)}, next start in ${formatDuration(delay)}`);
      slot.restartTimer = setTimeout(() => {
        if (!this.stopping) this.spawn(slot);
        this.update();
      }, delay);
    }
    this.update();
  }

  private onLine(line: string, pid: number): void {
    this.logto ? this.logto.line(this.name, pid, line) : this.deps.output.line(this.name, pid, line);
    const entry = { time: Date.now(), pid, line };
    this.recent.push(entry);
    for (const l of this.lineListeners) l(entry);
    this.alarms?.onLine(line, pid);
  }

  private async stopWorkers(slots: readonly Slot[], plan: VassalPlan): Promise<void> {
    const { stopSignal, stopTimeout } = plan.config;
    await Promise.all(
      slots.map(async (s) => {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        s.restartTimer = undefined;
        const w = s.worker;
        if (!w) return;
        const r = await w.stop(stopSignal, stopTimeout * 1000, () => this.deps.onKill?.(plan));
        if (r.forced) this.deps.log.warn(`worker ${r.pid} ignored ${stopSignal} for ${stopTimeout} s: killed`, { event: 'forced-kill', pid: r.pid });
      }),
    );
  }

  private async attach(plan: VassalPlan): Promise<void> {
    if (plan.config.logto) {
      const out = new FileOutput(plan.config.logto);
      await out.ready();
      this.logto = out;
    }
    if (this.deps.createAlarms) {
      this.alarms = await this.deps.createAlarms({
        vassal: this.name,
        log: this.deps.log,
        signalWorkers: (sig) => this.signalWorkers(sig),
        pids: () => this.pids,
        plan,
      });
    }
  }

  private async detach(): Promise<void> {
    const alarms = this.alarms;
    const logto = this.logto;
    this.alarms = undefined;
    this.logto = undefined;
    await Promise.all([alarms?.close(), logto?.close()]);
  }

  private update(): void {
    const prev = this.currentState;
    let next: VassalState;
    const live = this.slots.filter((s) => !s.exiled);
    if (this.stopping) next = 'stopping';
    else if (this.reloading) next = 'reloading';
    else if (this.slots.length > 0 && live.length === 0) next = 'exiled';
    else if (live.some((s) => s.restartTimer)) next = 'backoff';
    else if (live.length > 0 && live.every((s) => s.ready)) next = 'running';
    else next = 'starting';
    if (next === prev) return;
    this.currentState = next;
    if (next === 'running' && this.readyAt === undefined) {
      this.readyAt = Date.now();
      this.deps.log.info(`ready in ${formatDuration(this.readyAt - this.startBegan)} (${this.pids.length} worker${this.pids.length === 1 ? '' : 's'}: ${this.pids.join(', ')})`, { event: 'ready', pids: this.pids });
    } else if (prev === 'running' && (next === 'starting' || next === 'backoff')) {
      // Lost a worker: the next "ready" is measured from here.
      this.readyAt = undefined;
      this.startBegan = Date.now();
    }
    this.deps.onChange?.(this);
  }
}

function newSlot(): Slot {
  return { worker: undefined, ready: false, exiled: false, restartTimer: undefined };
}
