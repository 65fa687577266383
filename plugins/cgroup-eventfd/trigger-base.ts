/**
 * What the cgroup triggers share: an asynchronous setup that may finish after the vassal stopped,
 * one AbortController (tied to the host's signal) that every watch, timer and listener follows,
 * an idempotent close(), and notices said once per vassal.
 */
import type { TriggerHost } from '../../src/plugin.js';

export const LOG_PREFIX = '[emperor-alarm]';

/** Notices already given, per vassal and topic: "unavailable" is said once, not at every reload. */
const noticed = new Set<string>();

export function noticeOnce(host: TriggerHost, topic: string, message: string): void {
  const key = `${host.vassal}\0${topic}`;
  if (noticed.has(key)) return;
  noticed.add(key);
  host.log.warn(`${LOG_PREFIX} ${message}`, { event: 'trigger-unavailable', trigger: topic });
}

export abstract class CgroupTrigger {
  protected readonly ac = new AbortController();
  private readonly closers: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  private setupDone: Promise<void> = Promise.resolve();

  constructor(protected readonly host: TriggerHost) {}

  /** Runs setup(); a failure is logged, never thrown. Stops with the vassal (host.signal). */
  start(): this {
    if (this.host.signal.aborted) {
      void this.close();
      return this;
    }
    this.host.signal.addEventListener('abort', () => void this.close(), { once: true, signal: this.ac.signal });
    this.setupDone = this.setup().catch((err: unknown) => {
      if (!this.ac.signal.aborted) this.host.log.error(`${LOG_PREFIX} ${this.describeFailure(err)}`, { event: 'trigger-error' });
    });
    return this;
  }

  /** Resolves once setup has run (tests wait on it before making the cgroup move). */
  ready(): Promise<void> {
    return this.setupDone;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ac.abort();
      await this.setupDone;
      for (const c of this.closers.splice(0)) c();
    })();
    return this.closing;
  }

  protected get aborted(): boolean {
    return this.ac.signal.aborted;
  }

  /** Registers something to close with the trigger; closes it at once if the trigger already closed. */
  protected track(close: () => void): void {
    if (this.aborted) close();
    else this.closers.push(close);
  }

  protected abstract setup(): Promise<void>;

  protected abstract describeFailure(err: unknown): string;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
