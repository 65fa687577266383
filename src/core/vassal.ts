/**
 * One vassal: an object in the emperor (not a process of its own) that owns its workers, their
 * output, its alarm subsystem, its restart backoff and its on-demand socket. The emperor
 * serializes the calls it makes (start, reload, stop); worker exits, connections and idleness
 * arrive at any time and are checked against what is current.
 *
 * On demand, the vassal waits with its socket armed and no worker; the first connection starts
 * its workers, which inherit the socket. When every worker has finished cleanly (exit 0, or a
 * uWSGI instance asked to stop), or no connection was seen for `idle` seconds, it waits again on
 * the same socket: clients arriving meanwhile queue in the backlog.
 */
import type { VassalIsolation } from '../isolation/isolation.js';
import type { Logger } from '../log/logger.js';
import { FileOutput, type OutputSink } from '../log/output.js';
import { describeExit, EXILE_CODE, formatDuration, type ExitResult } from './exit.js';
import { processDriver, type DriverRun, type RunStatus, type SpawnContext, type WorkerDriver } from './driver.js';
import { IdleWatch } from './idle-watch.js';
import { listenFdName, socketForPlan } from './on-demand.js';
import type { OnDemandSocket } from './on-demand-socket.js';
import type { VassalPlan } from './plan.js';
import { forEachLine, linesOf, type LineBlock } from './line-splitter.js';
import { RecentLines, type RecentLine } from './recent-lines.js';
import { Backoff, type BackoffSettings } from './throttle.js';
import type { Worker } from './worker.js';

/** `waiting`: on demand, its socket armed, no worker running. */
export type VassalState = 'waiting' | 'starting' | 'running' | 'reloading' | 'backoff' | 'stopping' | 'stopped' | 'exiled';

/** What the vassal tells its alarm subsystem (src/alarms). */
export interface VassalAlarms {
  onLine(line: string, pid: number): void;
  /** The lines of one read together (without it, onLine gets them one by one). */
  onLines?(block: LineBlock, pid: number): void;
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
  /** Its cgroup, and in tyrant mode the opening of its files as its user (src/isolation). */
  isolation?: VassalIsolation;
}

interface Slot {
  /** 1-based, stable across restarts: EMPEROR_WORKER_ID tells a worker which member it is. */
  id: number;
  worker: Worker | undefined;
  /** The worker under its driver (set with `worker`). */
  run?: DriverRun;
  ready: boolean;
  exiled: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  /** When restartTimer fires (epoch ms), for stats. */
  restartAt?: number;
  /** An extra instance a worker asked for (driver variant, e.g. `zerg`): not counted in the state. */
  variant?: string;
  /** Stopping at its own request (idle): not respawned when it exits. */
  retiring?: boolean;
  /** Being stopped by the vassal (reload, surplus, stop): its exit is no crash. */
  stopping?: boolean;
  /** On demand: finished cleanly (exit 0, or stopped at its own request); not respawned. */
  done?: boolean;
}

/** One worker slot as stats show it: its live worker, or when it restarts after a crash. */
export interface WorkerInfo {
  slot: number;
  pid: number | undefined;
  startedAt: number | undefined;
  ready: boolean;
  exiled: boolean;
  /** Epoch ms at which a slot in backoff respawns. */
  restartAt: number | undefined;
}

export type { RecentLine } from './recent-lines.js';

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
  readonly recent: RecentLines;

  private slots: Slot[] = [];
  /** Plans whose cgroup still holds workers kept in place by a reload into another cgroup. */
  private readonly lingering: VassalPlan[] = [];
  private readonly backoff: Backoff;
  private alarms: VassalAlarms | undefined;
  private logto: FileOutput | undefined;
  private socket: OnDemandSocket | undefined;
  private idleWatch: IdleWatch | undefined;
  /** Set while an on-demand vassal stops its workers to wait again. */
  private switching: Promise<void> | undefined;
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
    this.recent = new RecentLines(deps.recentLines ?? 500);
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

  /** The on-demand socket's address (`127.0.0.1:8080`, a path), undefined when not on demand. */
  get onDemand(): string | undefined {
    return this.socket?.describe();
  }

  /** Every worker slot, for stats, status and health checks. */
  workers(): WorkerInfo[] {
    return this.slots.map((s) => {
      const alive = s.worker?.alive === true;
      return {
        slot: s.id,
        pid: alive ? s.worker!.pid : undefined,
        startedAt: alive ? s.worker!.startedAt : undefined,
        ready: s.ready,
        exiled: s.exiled,
        restartAt: s.restartTimer ? s.restartAt : undefined,
      };
    });
  }

  /** Every main worker is accepting requests (uWSGI: byte 5; other programs: ready). */
  get accepting(): boolean {
    const runs = this.mainRuns();
    return runs.length > 0 && runs.every((st) => st.accepting);
  }

  /** Every main worker proved itself (uWSGI: served a request, byte 17; other programs: ready). */
  get loyal(): boolean {
    const runs = this.mainRuns();
    return runs.length > 0 && runs.every((st) => st.loyal);
  }

  /** Epoch ms of the latest heartbeat of any worker, for workers that send them (uWSGI byte 26). */
  get lastHeartbeat(): number | undefined {
    const beats = this.slots.flatMap((s) => (s.run?.status.lastHeartbeat === undefined ? [] : [s.run.status.lastHeartbeat]));
    return beats.length === 0 ? undefined : Math.max(...beats);
  }

  /** Extra instances running at a worker's request (uWSGI broodlord zergs). */
  get extras(): number {
    return this.slots.filter((s) => s.variant !== undefined && s.worker?.alive).length;
  }

  /** Crashes in a row since the backoff was last reset (0 when healthy). */
  get crashLevel(): number {
    return this.backoff.level;
  }

  alarmStats(): unknown {
    return this.alarms?.stats();
  }

  /** Follows the vassal's output (`emperor logs -f`); returns an unsubscribe function. */
  onOutput(fn: (l: RecentLine) => void): () => void {
    this.lineListeners.add(fn);
    return () => this.lineListeners.delete(fn);
  }

  /**
   * Prepares the cgroup, log file, alarms and on-demand socket of the current plan, then spawns
   * every worker, or on demand waits for the first connection.
   */
  async start(): Promise<void> {
    this.adopt(await this.prepare(this.plan));
    if (this.socket) this.wait();
    else this.spawnAll();
  }

  private spawnAll(): void {
    this.startBegan = Date.now();
    this.readyAt = undefined;
    this.slots = Array.from({ length: this.plan.config.processes }, (_, i) => newSlot(i + 1));
    for (const slot of this.slots) this.spawn(slot);
    this.syncIdleWatch();
    this.update();
  }

  /** On demand: no worker, the socket armed for the next client. */
  private wait(): void {
    const sock = this.socket;
    if (!sock || this.stopping) return;
    this.stopIdleWatch();
    this.slots = [];
    this.readyAt = undefined;
    sock.arm(
      () => this.onConnection(sock),
      (err) => this.onSocketError(sock, err),
    );
    this.deps.log.info(`waiting for a connection on ${sock.describe()}`, { event: 'waiting', socket: sock.describe() });
    this.update();
  }

  private onConnection(sock: OnDemandSocket): void {
    if (sock !== this.socket || this.stopping || this.switching || this.slots.length > 0) return;
    this.deps.log.info(`a client connected to ${sock.describe()}: starting`, { event: 'on-demand', socket: sock.describe() });
    this.spawnAll();
  }

  private onSocketError(sock: OnDemandSocket, err: Error): void {
    this.deps.log.error(`cannot watch ${sock.describe()} for connections: ${err.message}; trying again in 1 s`, { event: 'socket-error', socket: sock.describe() });
    const timer = setTimeout(() => {
      if (sock === this.socket && !this.stopping && this.slots.length === 0 && !sock.isArmed) this.wait();
    }, 1000);
    this.abort.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  }

  /** Stops every worker and extra, then waits for the next connection on the same socket. */
  private backToWaiting(why: string): void {
    const sock = this.socket;
    if (!sock || this.switching || this.stopping) return;
    this.stopIdleWatch();
    this.deps.log.info(`${why}: ${this.pids.length > 0 ? 'stopping its workers and ' : ''}waiting again on ${sock.describe()}`, { event: 'idle', socket: sock.describe() });
    let finished!: () => void;
    this.switching = new Promise((resolve) => (finished = resolve));
    this.update();
    void this.stopWorkers(this.slots).finally(() => {
      this.switching = undefined;
      finished();
      if (this.socket && !this.stopping && !this.reloading) this.wait();
      else this.update();
    });
  }

  /** Stops the workers once no connection has been seen for `idle` seconds (when they do not stop on their own). */
  private syncIdleWatch(): void {
    const sock = this.socket;
    const wanted = sock !== undefined && this.plan.config.idle !== undefined && this.slots.length > 0 && !this.stopping;
    if (!wanted) {
      this.stopIdleWatch();
      return;
    }
    if (this.idleWatch) return;
    const watch = new IdleWatch({
      address: sock.address,
      idleMs: () => (this.plan.config.idle === undefined ? undefined : this.plan.config.idle * 1000),
      onIdle: () => {
        if (this.idleWatch !== watch) return;
        this.idleWatch = undefined;
        if (this.reloading) return; // the reload starts a new watch
        this.backToWaiting(`no connection for ${formatDuration((this.plan.config.idle ?? 0) * 1000)}`);
      },
      onError: (err) => this.deps.log.warn(`cannot read the connection tables for idle: ${err.message}`, { event: 'idle-error' }),
    });
    this.idleWatch = watch;
    watch.start();
  }

  private stopIdleWatch(): void {
    void this.idleWatch?.close();
    this.idleWatch = undefined;
  }

  /** Waiting on its socket, no worker. */
  private isWaiting(): boolean {
    return this.socket !== undefined && this.slots.length === 0 && !this.switching;
  }

  /** Applies a new plan the way its config asks: restart, rolling, or a signal. */
  async reload(plan: VassalPlan): Promise<void> {
    if (this.stopping) return;
    // An on-demand vassal on its way back to waiting gets there first.
    await this.switching;
    if (this.stopping) return;
    this.reloads++;
    this.lastModAt = Date.now();
    this.configError = undefined;
    this.backoff.reset();
    // What the new config needs besides workers (cgroup, log file, alarms, socket) is built before
    // any worker is touched: if that fails, the reload is refused and the running version keeps running.
    const next = await this.prepare(plan);
    if (this.stopping) {
      await this.release(next);
      return;
    }
    if (this.isWaiting()) {
      await this.reloadWaiting(plan, next);
      return;
    }
    const from = driverOf(this.plan);
    const sameKind = from.kind === driverOf(plan).kind;
    // Workers of another kind, or that hold another socket, are replaced, whatever the new
    // config's reload mode says.
    const sameSocket = next.socket === this.socket;
    const mode = sameKind && sameSocket ? plan.config.reload : ({ mode: 'restart' } as const);
    const inPlace = sameKind && sameSocket && from.reloadsInPlace(this.plan, plan) && this.slots.length > 0 && this.slots.every((s) => s.worker?.alive && s.run?.reload && !s.retiring);
    const how = inPlace ? 'in place' : mode.mode === 'signal' ? `signal ${mode.signal}` : mode.mode;
    this.deps.log.info(`reloading (${how})`, { event: 'reload', mode: inPlace ? 'in-place' : mode.mode });
    const previous = this.plan;
    this.reloading = true;
    this.update();
    try {
      if (inPlace) await this.reloadInPlace(plan, next);
      else if (mode.mode === 'signal') await this.reloadBySignal(plan, mode.signal, next);
      else if (mode.mode === 'rolling') await this.reloadRolling(plan, next);
      else await this.reloadRestart(plan, next);
      if (previous.cgroup && previous.cgroup.path !== plan.cgroup?.path) {
        // Replaced workers left the old cgroup empty: it goes now. Workers kept in place (signal,
        // in-place reloads) stay in it until the vassal stops.
        if (inPlace || mode.mode === 'signal') this.lingering.push(previous);
        else await this.deps.isolation?.release(previous, Date.now());
      }
    } finally {
      this.reloading = false;
      // On demand, workers that finished during the reload send the vassal back to waiting now.
      if (!this.settleOnDemand()) this.syncIdleWatch();
    }
  }

  /**
   * A waiting on-demand vassal takes the new config without starting (as uWSGI only updates
   * last_mod): it applies at the next connection. One that is no longer on demand starts now.
   */
  private async reloadWaiting(plan: VassalPlan, next: Attachments): Promise<void> {
    // Disarmed meanwhile, so no worker starts with the old plan; re-armed below, and a client
    // that came meanwhile starts the new version at once.
    this.socket?.disarm();
    await this.detach(next);
    this.plan = plan;
    this.adopt(next);
    if (this.stopping) return;
    if (this.socket) {
      this.deps.log.info('config updated; it applies at the next connection', { event: 'reload', mode: 'waiting' });
      this.wait();
    } else {
      this.deps.log.info('config updated and no longer on demand: starting', { event: 'reload', mode: 'restart' });
      this.spawnAll();
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
    this.stopIdleWatch();
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.worker?.kill();
    }
    try {
      this.socket?.closeNow();
    } catch (err) {
      this.deps.log.error(`cannot close ${this.socket?.describe()}: ${(err as Error).message}`, { event: 'socket-error' });
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
    this.stopIdleWatch();
    this.socket?.disarm();
    this.update();
    this.abort.abort();
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
    }
    const began = Date.now();
    await this.stopWorkers(this.slots);
    // After detach: its eventfd watches are closed before the cgroup they watch is removed.
    await this.detach();
    for (const p of [...this.lingering, this.plan]) await this.deps.isolation?.release(p, began);
    this.currentState = 'stopped';
    this.deps.onChange?.(this);
  }

  /** Each worker applies the new plan itself (uWSGI: a graceful reload): same processes, no gap. */
  private async reloadInPlace(plan: VassalPlan, next: Attachments): Promise<void> {
    await this.detach(next);
    this.plan = plan;
    this.adopt(next);
    const began = Date.now();
    const runs = this.slots.flatMap((s) => (s.run ? [s.run] : []));
    const done = await Promise.all(runs.map((r) => r.reload!(plan)));
    const late = runs.filter((_, i) => !done[i]).map((r) => r.worker.pid);
    if (late.length > 0) {
      this.deps.log.warn(`reloaded in place, but worker${late.length === 1 ? '' : 's'} ${late.join(', ')} not ready after ${plan.config.readyTimeout} s; still waiting for ${late.length === 1 ? 'it' : 'them'}`, { event: 'reload-slow', pids: late });
    } else {
      this.deps.log.info(`reloaded in place in ${formatDuration(Date.now() - began)}`, { event: 'reloaded', pids: this.pids });
    }
  }

  private async reloadRestart(plan: VassalPlan, next: Attachments): Promise<void> {
    const old = this.slots;
    for (const s of old) if (s.restartTimer) clearTimeout(s.restartTimer);
    await this.stopWorkers(old);
    await this.detach(next);
    if (this.stopping) {
      await this.release(next);
      return;
    }
    this.plan = plan;
    this.adopt(next);
    this.spawnAll();
  }

  /** New workers one by one, each ready before an old one stops: the service never goes dark. */
  private async reloadRolling(plan: VassalPlan, next: Attachments): Promise<void> {
    await this.detach(next);
    this.plan = plan;
    this.adopt(next);
    const count = plan.config.processes;
    for (let i = 0; i < Math.max(count, this.slots.length); i++) {
      if (this.stopping) return;
      const old = this.slots[i];
      if (i >= count) {
        if (old) await this.stopWorkers([old]);
        continue;
      }
      const fresh = newSlot(i + 1);
      const readyOk = this.spawn(fresh);
      if (old?.restartTimer) clearTimeout(old.restartTimer);
      if (!(await readyOk)) {
        this.deps.log.error(`rolling reload: new worker ${i + 1}/${count} did not become ready; keeping the remaining old workers`, { event: 'reload-failed' });
        await this.stopWorkers([fresh]);
        return;
      }
      this.slots[i] = fresh;
      if (old) await this.stopWorkers([old]);
    }
    this.slots = this.slots.slice(0, count);
  }

  private async reloadBySignal(plan: VassalPlan, sig: NodeJS.Signals, next: Attachments): Promise<void> {
    await this.detach(next);
    this.plan = plan;
    this.adopt(next);
    this.signalWorkers(sig);
    const count = plan.config.processes;
    while (this.slots.length < count) {
      const s = newSlot(this.slots.length + 1);
      this.slots.push(s);
      this.spawn(s);
    }
    if (this.slots.length > count) {
      const surplus = this.slots.splice(count);
      await this.stopWorkers(surplus);
    }
  }

  /** Spawns a worker into a slot through the plan's driver; resolves true once it is ready, false if it never is. */
  private spawn(slot: Slot): Promise<boolean> {
    slot.restartTimer = undefined;
    slot.ready = false;
    slot.retiring = false;
    const plan = this.plan;
    let run: DriverRun | undefined;
    const current = (): boolean => run !== undefined && slot.run === run;
    run = driverOf(plan).spawn({
      plan,
      spec: { ...plan.worker, env: { ...plan.worker.env, EMPEROR_WORKER_ID: String(slot.id) } },
      ...(slot.variant === undefined ? {} : { variant: slot.variant }),
      onLine: { block: (lines, w) => this.onLines(lines, w) },
      log: this.deps.log,
      signal: this.abort.signal,
      ...(this.socket ? { listenSocket: { fd: this.socket.fd, name: listenFdName(this.name) } } : {}),
      ...(this.mayReach(plan) ?? {}),
      onKill: () => this.deps.onKill?.(plan),
      changed: () => {
        if (!current()) return;
        slot.ready = run!.status.ready;
        this.update();
      },
      loyal: () => {
        if (current()) this.backoff.reset();
      },
      idle: () => {
        if (current()) this.retire(slot);
      },
      reinforce: (variant) => this.addExtra(variant),
    });
    const worker = run.worker;
    slot.run = run;
    slot.worker = worker;
    this.backoff.started();
    this.deps.log.debug(`worker ${worker.pid} spawned`, { event: 'spawn', pid: worker.pid, ...(slot.variant === undefined ? {} : { variant: slot.variant }) });
    void worker.exited.then((r) => this.onWorkerExit(slot, worker, r));
    return run.ready.then((ok) => {
      if (!ok || slot.worker !== worker || !worker.alive) return false;
      slot.ready = true;
      this.update();
      return true;
    });
  }

  /** The worker asked to stop (idle): it is stopped and not respawned. */
  private retire(slot: Slot): void {
    if (this.stopping || slot.retiring || !slot.worker?.alive) return;
    slot.retiring = true;
    const then = this.socket && slot.variant === undefined ? 'the vassal waits for a connection once its workers are done' : 'not respawning';
    this.deps.log.info(`worker ${slot.worker.pid} asks to stop (idle): stopping it, ${then}`, { event: 'idle-stop', pid: slot.worker.pid });
    void slot.run?.stop();
  }

  /** An extra instance a worker asked for (uWSGI broodlord: a zerg): stopped with the vassal. */
  private addExtra(variant: string): void {
    if (this.stopping || this.reloading || this.switching) return;
    const slot = newSlot(Math.max(0, ...this.slots.map((s) => s.id)) + 1);
    slot.variant = variant;
    this.slots.push(slot);
    this.deps.log.info(`starting an extra ${variant} instance at a worker's request`, { event: 'extra', variant });
    this.spawn(slot);
    this.update();
  }

  /** The driver status of every main (non-extra, non-exiled) worker slot. */
  private mainRuns(): RunStatus[] {
    return this.slots.filter((s) => s.variant === undefined && !s.exiled).map((s) => s.run?.status ?? { ready: false, accepting: false, loyal: false });
  }

  private onWorkerExit(slot: Slot, worker: Worker, r: ExitResult): void {
    this.lastExit = r;
    const expected = this.stopping || slot.stopping === true || slot.worker !== worker || r.reason === 'stopped' || r.reason === 'killed';
    if (this.alarms) {
      const lastLines = this.recent.toArray().filter((l) => l.pid === r.pid).slice(-SEGFAULT_CONTEXT_LINES).map((l) => l.line);
      this.alarms.onWorkerExit({ pid: r.pid, code: r.code, signal: r.signal, lastLines, expected: expected && r.reason !== 'killed' });
    }
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    if (this.stopping || slot.stopping) {
      this.update();
      return;
    }
    if (this.socket && slot.variant === undefined && r.code !== EXILE_CODE && ((r.code === 0 && r.signal === null) || slot.retiring)) {
      slot.done = true;
      this.deps.log.info(`worker ${r.pid} ${slot.retiring ? 'stopped at its own request' : 'exited cleanly'}: not respawned before the next connection`, { event: 'done', pid: r.pid });
      this.settleOnDemand();
      return;
    }
    if (r.code === EXILE_CODE || slot.retiring) {
      slot.exiled = true;
      if (slot.retiring) this.deps.log.info(`worker ${r.pid} stopped at its own request: not respawning`, { event: 'retired', pid: r.pid });
      else this.deps.log.info(`worker ${r.pid} exited with code ${EXILE_CODE}: not respawning`, { event: 'exiled', pid: r.pid });
      // An extra instance that is done leaves no trace; a main worker stays, exiled, until a reload.
      if (slot.variant !== undefined) this.slots = this.slots.filter((s) => s !== slot);
      if (!this.settleOnDemand()) this.update();
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
      slot.restartAt = Date.now() + delay;
      slot.restartTimer = setTimeout(() => {
        if (!this.stopping) this.spawn(slot);
        this.update();
      }, delay);
    }
    this.update();
  }

  /**
   * On demand: once every main worker is done (some may be exiled, not all), the vassal waits
   * again. Returns true when it goes back to waiting.
   */
  private settleOnDemand(): boolean {
    const main = this.slots.filter((s) => s.variant === undefined);
    const finished = main.length > 0 && main.every((s) => s.done || s.exiled) && main.some((s) => s.done);
    if (!this.socket || !finished || this.reloading || this.stopping) {
      this.update();
      return false;
    }
    this.backToWaiting('every worker finished');
    return true;
  }

  /** The lines of one read of a worker's output: to the vassal's output, its recent lines, its alarms. */
  private onLines(block: LineBlock, worker: Worker): void {
    const pid = worker.pid;
    const sink = this.logto ?? this.deps.output;
    if (sink.lines) sink.lines(this.name, pid, block);
    else for (const line of linesOf(block)) sink.line(this.name, pid, line);
    // A burst the reader cannot take at once pauses this worker's pipe: it waits, nothing is lost.
    if (sink.congested() && worker.pauseOutput()) sink.whenDrained(() => worker.resumeOutput());
    const time = Date.now();
    this.recent.pushBlock(time, pid, block);
    if (this.lineListeners.size > 0) {
      for (const line of linesOf(block)) {
        const entry = { time, pid, line };
        for (const l of this.lineListeners) l(entry);
      }
    }
    const alarms = this.alarms;
    if (alarms?.onLines) alarms.onLines(block, pid);
    else if (alarms) forEachLine(block, (s, e) => alarms.onLine(block.toString('utf8', s, e), pid));
  }


  /** Stops each slot's worker the way its driver does (the process driver: stop-signal, then SIGKILL). */
  private async stopWorkers(slots: readonly Slot[]): Promise<void> {
    await Promise.all(
      slots.map(async (s) => {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        s.restartTimer = undefined;
        s.stopping = true;
        if (s.worker?.alive) await s.run?.stop();
      }),
    );
  }

  /** Builds what a plan needs besides its workers; nothing of the running version is touched. */
  private async prepare(plan: VassalPlan): Promise<Attachments> {
    const next: Attachments = {};
    try {
      // The cgroup first: the alarm triggers watch it, the workers join it.
      await this.deps.isolation?.prepare(plan);
      if (plan.config.logto) {
        const out = new FileOutput((await this.deps.isolation?.logTarget(plan)) ?? plan.config.logto);
        next.logto = out;
        await out.ready();
      }
      if (this.deps.createAlarms) {
        next.alarms = await this.deps.createAlarms({
          vassal: this.name,
          log: this.deps.log,
          signalWorkers: (sig) => this.signalWorkers(sig),
          pids: () => this.pids,
          plan,
        });
      }
      // Last: the same address keeps the socket the vassal holds (and the clients in its backlog).
      const socket = await socketForPlan(plan, this.socket);
      if (socket) next.socket = socket;
    } catch (err) {
      await this.release(next);
      throw err;
    }
    return next;
  }

  private mayReach(plan: VassalPlan): Pick<SpawnContext, 'mayReach'> | undefined {
    const check = this.deps.isolation?.probeAccess(plan);
    return check ? { mayReach: check } : undefined;
  }

  private adopt(a: Attachments): void {
    this.alarms = a.alarms;
    this.logto = a.logto;
    this.socket = a.socket;
  }

  /** Closes the current attachments, except a socket that `next` keeps. */
  private async detach(next?: Attachments): Promise<void> {
    const current: Attachments = { alarms: this.alarms, ...(this.logto ? { logto: this.logto } : {}), ...(this.socket ? { socket: this.socket } : {}) };
    this.alarms = undefined;
    this.logto = undefined;
    this.socket = undefined;
    await closeAttachments(current, next?.socket);
  }

  /** Closes attachments that were built and not adopted, except the socket the vassal holds. */
  private release(a: Attachments): Promise<void> {
    return closeAttachments(a, this.socket);
  }

  private update(): void {
    const prev = this.currentState;
    let next: VassalState;
    const live = this.slots.filter((s) => !s.exiled && !s.done && s.variant === undefined);
    if (this.stopping || this.switching) next = 'stopping';
    else if (this.reloading) next = 'reloading';
    else if (this.socket && this.slots.length === 0) next = 'waiting';
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

/** What a vassal holds besides its workers, built per plan. */
interface Attachments {
  alarms?: VassalAlarms | undefined;
  logto?: FileOutput;
  /** On demand: the listening socket (the same object across reloads that keep its address). */
  socket?: OnDemandSocket;
}

async function closeAttachments(a: Attachments, keepSocket?: OnDemandSocket): Promise<void> {
  await Promise.all([a.alarms?.close(), a.logto?.close(), a.socket === keepSocket ? undefined : a.socket?.close()]);
}

function driverOf(plan: VassalPlan): WorkerDriver {
  return plan.driver ?? processDriver;
}

function newSlot(id: number): Slot {
  return { id, worker: undefined, ready: false, exiled: false, restartTimer: undefined };
}
