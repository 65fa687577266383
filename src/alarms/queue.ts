/**
 * Where action runs wait their turn. A lane runs one action at a time, in order, with a bounded
 * backlog; every run has a deadline and an AbortSignal, and the lane moves on at the deadline
 * whether or not the action honours the signal, so a hanging SMTP server delays only its own lane.
 * By default each alarm has its own lane (alarms never wait for each other); with alarm-cheap the
 * whole vassal shares one.
 */
import { EmperorError, ErrorCodes } from '../errors.js';

export type ActionTask = (signal: AbortSignal) => Promise<void>;

/** Pending runs one lane holds before it refuses more (the firing counts as suppressed). */
export const DEFAULT_MAX_PENDING = 100;

/**
 * Runs `task` with a deadline. Settles at the task's end, at the deadline (rejecting with an
 * ALARM_ACTION timeout error and aborting the task's signal), or when `parent` aborts.
 */
export function runBounded(task: ActionTask, timeoutMs: number, parent: AbortSignal): Promise<void> {
  if (parent.aborted) return Promise.reject(parent.reason);
  const ac = new AbortController();
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onParent = (): void => {
      ac.abort(parent.reason);
      finish(parent.reason);
    };
    const timer = setTimeout(() => {
      const err = new EmperorError(ErrorCodes.ALARM_ACTION, `timed out after ${timeoutMs} ms`);
      ac.abort(err);
      finish(err);
    }, timeoutMs);
    parent.addEventListener('abort', onParent, { once: true });
    let running: Promise<void>;
    try {
      running = task(ac.signal);
    } catch (err) {
      finish(err);
      return;
    }
    running.then(() => finish(), (err: unknown) => finish(err ?? new Error('action failed')));
  });
}

interface Job {
  task: ActionTask;
  timeoutMs: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface ActionLaneOptions {
  /** Aborting it aborts the running action and rejects every pending one. */
  signal: AbortSignal;
  maxPending?: number;
}

export class ActionLane {
  private readonly pending: Job[] = [];
  private readonly signal: AbortSignal;
  private readonly maxPending: number;
  private running: Promise<void> | undefined;

  constructor(opts: ActionLaneOptions) {
    this.signal = opts.signal;
    this.maxPending = opts.maxPending ?? DEFAULT_MAX_PENDING;
    this.signal.addEventListener(
      'abort',
      () => {
        for (const job of this.pending.splice(0)) job.reject(this.signal.reason);
      },
      { once: true },
    );
  }

  /** Runs waiting (not counting the one in progress). */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Queues a run. Returns its outcome, or undefined when the lane is full or closed (the caller
   * decides what a refused run means; it never waits).
   */
  tryPush(task: ActionTask, timeoutMs: number): Promise<void> | undefined {
    if (this.signal.aborted || this.pending.length >= this.maxPending) return undefined;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ task, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /** Resolves once the run in progress (if any) has settled. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private pump(): void {
    if (this.running !== undefined) return;
    const job = this.pending.shift();
    if (job === undefined) return;
    this.running = runBounded(job.task, job.timeoutMs, this.signal)
      .then(job.resolve, job.reject)
      .finally(() => {
        this.running = undefined;
        this.pump();
      });
  }
}
