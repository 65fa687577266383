/**
 * One uWSGI instance under the emperor protocol. Its bytes drive its state: spawned (1) and
 * accepting (5) make it ready, loyal (17) forgives its vassal's crash history, heartbeats (26)
 * must keep coming once they started, idle (22) asks to be stopped, SOS (30) asks for a zerg.
 * Reload is byte 1 (uWSGI's graceful reload: same master pid, requests in flight complete), stop
 * is byte 0 (2 with graceful shutdown), SIGKILL to its process group after the curse tolerance.
 */
import type { Duplex } from 'node:stream';
import type { DriverRun, RunStatus, SpawnContext } from '../core/driver.js';
import { formatDuration, type ExitResult } from '../core/exit.js';
import type { VassalPlan } from '../core/plan.js';
import { Worker } from '../core/worker.js';
import { describeError } from '../errors.js';
import { configPacket } from './config-packet.js';
import { ENV_BROODLORD_NUM, ENV_EMPEROR_FD, ENV_EMPEROR_FD_CONFIG, FromVassal, ToVassal } from './protocol.js';

/** Zergs running across the emperor, and how many may (`--broodlord`), as uWSGI counts them. */
export interface Brood {
  readonly limit: number;
  count: number;
}

export interface UwsgiRunOptions {
  ctx: SpawnContext;
  argv: readonly string[];
  /** The config pushed over the config pipe (emperor://NAME); undefined when uWSGI reads a file. */
  pushed: string | undefined;
  /** The config a newer plan pushes, for a reload in place. */
  pushedOf(plan: VassalPlan): string | undefined;
  curseToleranceMs: number;
  gracefulShutdown: boolean;
  /** Silence allowed after the first heartbeat before the instance is killed; 0: not watched. */
  requiredHeartbeatMs: number;
  brood: Brood;
}

export const ZERG = 'zerg';

export class UwsgiRun implements DriverRun {
  readonly worker: Worker;
  readonly ready: Promise<boolean>;
  readonly status: RunStatus = { ready: false, accepting: false, loyal: false };
  private readonly control: Duplex | undefined;
  private readonly configPipe: Duplex | undefined;
  private readonly zerg: boolean;
  private pushed: string | undefined;
  private readyWaiters: Array<(ok: boolean) => void> = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private curseTimer: NodeJS.Timeout | undefined;
  private stopped: Promise<ExitResult> | undefined;
  private reloading = false;
  private sosRefused = false;

  constructor(private readonly o: UwsgiRunOptions) {
    const { ctx } = o;
    this.zerg = ctx.variant === ZERG;
    this.pushed = o.pushed;
    const first = 3 + (ctx.spec.extraFds?.length ?? 0);
    const env: Record<string, string> = { ...ctx.spec.env, [ENV_EMPEROR_FD]: String(first) };
    delete env[ENV_EMPEROR_FD_CONFIG];
    delete env[ENV_BROODLORD_NUM];
    if (o.pushed !== undefined) env[ENV_EMPEROR_FD_CONFIG] = String(first + 1);
    if (this.zerg) env[ENV_BROODLORD_NUM] = String(++o.brood.count);
    // An on-demand socket goes to fd 0, where uWSGI looks for an inherited socket (as uWSGI's
    // own emperor passes it).
    const stdin = ctx.listenSocket ? { stdin: ctx.listenSocket.fd } : {};
    this.worker = Worker.spawn({ ...ctx.spec, ...stdin, argv: o.argv, env, channels: o.pushed === undefined ? 1 : 2 }, ctx.onLine);
    [this.control, this.configPipe] = this.worker.channels;
    this.ready = new Promise((resolve) => this.readyWaiters.push(resolve));
    this.control?.on('data', (chunk: Buffer) => {
      for (const byte of chunk) this.onByte(byte);
    });
    // uWSGI holds the channel until it exits: a channel closed by a live instance is a curse.
    this.control?.on('close', () => this.onControlClosed());
    if (this.pushed !== undefined) this.push();
    void this.worker.exited.then(() => this.onExit());
  }

  stop(): Promise<ExitResult> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  async reload(plan: VassalPlan): Promise<boolean> {
    if (this.stopped || !this.worker.alive) return false;
    this.pushed = this.o.pushedOf(plan) ?? this.pushed;
    // Its workers stop beating while uWSGI replaces them.
    this.reloading = true;
    this.clearHeartbeat();
    this.status.ready = false;
    this.status.accepting = false;
    this.o.ctx.changed();
    const again = new Promise<boolean>((resolve) => this.readyWaiters.push(resolve));
    if (!this.send(ToVassal.reload)) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), plan.config.readyTimeout * 1000);
    });
    const ok = await Promise.race([again, late]);
    clearTimeout(timer);
    return ok && this.worker.alive;
  }

  private async doStop(): Promise<ExitResult> {
    this.clearHeartbeat();
    const byte = this.o.gracefulShutdown ? ToVassal.gracefulStop : ToVassal.stop;
    // No channel (the instance is already going): SIGINT is uWSGI's own "stop now".
    const r = await this.worker.stop(() => this.send(byte) || this.worker.signal('SIGINT'), this.o.curseToleranceMs, () => this.o.ctx.onKill());
    if (r.forced) {
      this.o.ctx.log.warn(`uWSGI instance ${r.pid} still alive ${formatDuration(this.o.curseToleranceMs)} after the stop request (curse tolerance): killed`, { event: 'forced-kill', pid: r.pid });
    }
    return r;
  }

  private onByte(byte: number): void {
    switch (byte) {
      case FromVassal.spawned:
        this.markReady(false);
        return;
      case FromVassal.accepting:
        this.markReady(true);
        return;
      case FromVassal.configRequest:
        if (this.pushed !== undefined) this.push();
        else this.o.ctx.log.debug('asked for its config, but it reads a file', { event: 'config-request', pid: this.worker.pid });
        return;
      case FromVassal.loyal:
        this.onLoyal();
        return;
      case FromVassal.voluntaryStop:
        this.o.ctx.idle();
        return;
      case FromVassal.heartbeat:
        this.onHeartbeat();
        return;
      case FromVassal.sos:
        this.onSos();
        return;
      default:
        this.o.ctx.log.debug(`unknown emperor protocol byte ${byte}`, { event: 'protocol', pid: this.worker.pid, byte });
    }
  }

  private markReady(accepting: boolean): void {
    const now = Date.now();
    const s = this.status;
    if (accepting && !s.accepting) {
      s.accepting = true;
      s.lastAccepting = now;
    }
    if (!s.ready) {
      s.ready = true;
      s.lastReady = now;
      this.reloading = false;
      this.settle(true);
    }
    this.o.ctx.changed();
  }

  private onLoyal(): void {
    const first = !this.status.loyal;
    this.status.loyal = true;
    this.status.lastLoyal = Date.now();
    if (first) this.o.ctx.log.info(`uWSGI instance ${this.worker.pid} is loyal: it served its first request`, { event: 'loyal', pid: this.worker.pid });
    this.o.ctx.loyal();
    this.o.ctx.changed();
  }

  private onHeartbeat(): void {
    this.status.lastHeartbeat = Date.now();
    const ms = this.o.requiredHeartbeatMs;
    if (ms <= 0 || this.stopped || this.reloading) return;
    if (this.heartbeatTimer) {
      this.heartbeatTimer.refresh();
      return;
    }
    this.heartbeatTimer = setTimeout(() => this.onHeartbeatLost(), ms);
    this.o.ctx.log.debug(`uWSGI instance ${this.worker.pid} sends heartbeats: it is killed if silent for ${formatDuration(ms)}`, { event: 'heartbeat-watch', pid: this.worker.pid });
  }

  private onHeartbeatLost(): void {
    this.heartbeatTimer = undefined;
    if (!this.worker.alive || this.stopped) return;
    this.o.ctx.log.warn(`uWSGI instance ${this.worker.pid} sent no heartbeat in the last ${formatDuration(this.o.requiredHeartbeatMs)}: killing it, it will be respawned`, { event: 'heartbeat-lost', pid: this.worker.pid });
    this.worker.signal('SIGKILL');
    this.o.ctx.onKill();
  }

  private onSos(): void {
    const { log } = this.o.ctx;
    if (this.zerg) {
      log.debug('a zerg asked for reinforcements: only its base instance may', { event: 'sos', pid: this.worker.pid });
      return;
    }
    const b = this.o.brood;
    if (b.count < b.limit) {
      log.info(`uWSGI instance ${this.worker.pid} asks for reinforcements: starting a zerg (${b.count + 1} of at most ${b.limit})`, { event: 'sos', pid: this.worker.pid });
      this.o.ctx.reinforce(ZERG);
      return;
    }
    if (this.sosRefused) return;
    this.sosRefused = true;
    const why = b.limit === 0 ? 'broodlord mode is off (--broodlord N enables it)' : `${b.limit} zergs already run (--broodlord ${b.limit})`;
    log.info(`uWSGI instance ${this.worker.pid} asks for reinforcements, but ${why}`, { event: 'sos-refused', pid: this.worker.pid });
  }

  private onControlClosed(): void {
    if (this.curseTimer || this.stopped || !this.worker.alive) return;
    this.curseTimer = setTimeout(() => {
      if (!this.worker.alive || this.stopped) return;
      this.o.ctx.log.warn(`uWSGI instance ${this.worker.pid} closed its emperor channel ${formatDuration(this.o.curseToleranceMs)} ago and still runs: killing it`, { event: 'cursed', pid: this.worker.pid });
      this.worker.signal('SIGKILL');
      this.o.ctx.onKill();
    }, this.o.curseToleranceMs);
  }

  private onExit(): void {
    this.clearHeartbeat();
    if (this.curseTimer) clearTimeout(this.curseTimer);
    this.status.ready = false;
    this.status.accepting = false;
    this.settle(false);
    if (this.zerg) this.o.brood.count--;
  }

  private push(): void {
    const pipe = this.configPipe;
    if (!pipe || pipe.destroyed || this.pushed === undefined) return;
    try {
      pipe.write(configPacket(this.pushed));
    } catch (err) {
      this.o.ctx.log.error(`cannot push the config: ${describeError(err)}`, { event: 'config-push-error', pid: this.worker.pid });
    }
  }

  private send(byte: number): boolean {
    const c = this.control;
    if (!c || c.destroyed || !c.writable) return false;
    c.write(Buffer.of(byte));
    return true;
  }

  private settle(ok: boolean): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w(ok);
  }

  private clearHeartbeat(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }
}
