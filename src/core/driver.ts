/**
 * How a vassal runs each worker: the seam between the vassal's bookkeeping (slots, backoff, state)
 * and what a worker process is. The process driver runs any program: ready by the config's probe,
 * stopped by stop-signal then SIGKILL, reloaded by the vassal's reload mode. Other drivers speak a
 * protocol with their workers (src/uwsgi: the uWSGI emperor protocol) and may reload them in place.
 */
import type { Logger } from '../log/logger.js';
import type { ExitResult } from './exit.js';
import type { VassalPlan } from './plan.js';
import { describeProbe, waitReady } from './ready.js';
import { Worker, type LineSink, type WorkerSpec } from './worker.js';

/** What a driver may ask of the vassal a worker belongs to. */
export interface SpawnContext {
  plan: VassalPlan;
  /** The plan's worker spec with the vassal's per-worker additions (EMPEROR_WORKER_ID). */
  spec: WorkerSpec;
  /** Set for an extra instance asked for through `reinforce` (e.g. `zerg`). */
  variant?: string;
  onLine: LineSink;
  log: Logger;
  /** Aborts when the vassal stops. */
  signal: AbortSignal;
  /**
   * The vassal's on-demand socket, which the driver hands to the worker its own way (the process
   * driver as systemd does: fd 3, LISTEN_FDS, LISTEN_PID; uWSGI: fd 0).
   */
  listenSocket?: ListenSocket;
  /** Tyrant mode: probes check paths with the vassal user's rights (see ProbeOptions.mayReach). */
  mayReach?: (kind: 'file' | 'unix', path: string) => Promise<boolean>;
  /** Runs with a SIGKILL of the worker's group: kills what left the group (its cgroup). */
  onKill(): void;
  /** Readiness, accepting or loyalty changed: the vassal recomputes its state. */
  changed(): void;
  /** The worker proved itself (served a request): its vassal's crash history is forgiven. */
  loyal(): void;
  /** The worker asks to stop because it is idle: the vassal stops it and does not respawn it. */
  idle(): void;
  /** The worker asks for reinforcements: the vassal adds an extra instance of this variant. */
  reinforce(variant: string): void;
}

export interface ListenSocket {
  /** The emperor's listening descriptor. */
  fd: number;
  /** For LISTEN_FDNAMES. */
  name: string;
}

/** The spec with the socket as systemd passes one (sd_listen_fds(3)): fd 3, LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES. */
export function withListenSocket(spec: WorkerSpec, socket: ListenSocket | undefined): WorkerSpec {
  if (!socket) return spec;
  return {
    ...spec,
    extraFds: [socket.fd, ...(spec.extraFds ?? [])],
    listenFds: 1,
    env: { ...spec.env, LISTEN_FDNAMES: socket.name },
  };
}

/** What a driver says of one worker, for state and stats. */
export interface RunStatus {
  /** Serving (a probe passed, or the worker said so). */
  ready: boolean;
  /** Accepting requests. */
  accepting: boolean;
  /** Proved itself (uWSGI: served its first request). */
  loyal: boolean;
  /** Epoch ms of the last heartbeat, when the worker sends them. */
  lastHeartbeat?: number;
  lastReady?: number;
  lastAccepting?: number;
  lastLoyal?: number;
}

/** One worker process under its driver. */
export interface DriverRun {
  readonly worker: Worker;
  /** Resolves true once ready; false when it never will be (it died, or the driver stopped it). */
  readonly ready: Promise<boolean>;
  readonly status: RunStatus;
  /** Asks the worker to stop the driver's way, SIGKILL to its group if it does not in time. */
  stop(): Promise<ExitResult>;
  /**
   * Applies a new plan without replacing the process (only when the driver said reloadsInPlace).
   * Resolves true once ready again, false when it is not ready within the plan's ready-timeout
   * (the run keeps tracking it).
   */
  reload?(plan: VassalPlan): Promise<boolean>;
}

export interface WorkerDriver {
  /** Drivers of the same kind can hand a vassal over to each other in place. */
  readonly kind: string;
  /** Whether a vassal running `from` can take `to` by reloading its workers in place. */
  reloadsInPlace(from: VassalPlan, to: VassalPlan): boolean;
  spawn(ctx: SpawnContext): DriverRun;
}

/** Any program: the config's readiness probe, stop-signal, stop-timeout. */
export const processDriver: WorkerDriver = {
  kind: 'process',
  reloadsInPlace: () => false,
  spawn(ctx: SpawnContext): DriverRun {
    const { plan, log } = ctx;
    const { stopSignal, stopTimeout } = plan.config;
    const worker = Worker.spawn(withListenSocket(ctx.spec, ctx.listenSocket), ctx.onLine);
    const status: RunStatus = { ready: false, accepting: false, loyal: false };
    let stopping = false;
    const stop = async (): Promise<ExitResult> => {
      stopping = true;
      const r = await worker.stop(stopSignal, stopTimeout * 1000, ctx.onKill);
      if (r.forced) log.warn(`worker ${r.pid} ignored ${stopSignal} for ${stopTimeout} s: killed`, { event: 'forced-kill', pid: r.pid });
      return r;
    };
    const probe = plan.config.ready;
    const ready = waitReady(probe, {
      signal: ctx.signal,
      timeoutMs: plan.config.readyTimeout * 1000,
      stillAlive: () => worker.alive,
      ...(ctx.mayReach ? { mayReach: ctx.mayReach } : {}),
    }).then(
      () => {
        if (!worker.alive) return false;
        // A program that passes its probe is as accepting and as loyal as can be told from outside.
        const now = Date.now();
        Object.assign(status, { ready: true, accepting: true, loyal: true, lastReady: now, lastAccepting: now, lastLoyal: now });
        return true;
      },
      (err: Error) => {
        if (worker.alive && !stopping && !ctx.signal.aborted) {
          log.warn(`worker ${worker.pid} not ready: ${err.message}; killing it`, { event: 'not-ready', pid: worker.pid, probe: describeProbe(probe) });
          void stop();
        }
        return false;
      },
    );
    return { worker, ready, status, stop };
  },
};
