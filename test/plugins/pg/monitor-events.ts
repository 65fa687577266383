/**
 * Runs a monitor's event stream in the background and lets a test wait for what a user would
 * look for: a snapshot with some vassal in it, an error naming a row. Each event is stamped when
 * it arrives, so reaction times are measured from the events, not from the polling of the test.
 */
import type { Monitor, MonitorContext, MonitorEvent, VassalSpec } from '../../../src/monitors/types.js';
import { MemoryLogger } from '../../../src/log/logger.js';
import { waitFor } from '../../helpers/wait.js';

export interface Stamped {
  event: MonitorEvent;
  at: number;
}

export function testContext(over: Partial<MonitorContext> = {}): MonitorContext & { log: MemoryLogger } {
  return {
    freq: 0.2,
    extraExtensions: [],
    nodeName: 'test-node',
    stateDir: '/nonexistent',
    tyrant: false,
    tyrantNofollow: false,
    settleMs: 0,
    maxConfigBytes: 1024 * 1024,
    ...over,
    log: over.log instanceof MemoryLogger ? over.log : new MemoryLogger(),
  };
}

export class EventLog {
  readonly stamped: Stamped[] = [];
  private readonly ac = new AbortController();
  private readonly done: Promise<void>;
  failure: unknown;

  constructor(readonly monitor: Monitor) {
    this.done = (async () => {
      try {
        for await (const event of monitor.events(this.ac.signal)) this.stamped.push({ event, at: performance.now() });
      } catch (err) {
        this.failure = err;
      }
    })();
  }

  /** A position in the log: later waits look only at what comes after it. */
  mark(): number {
    return this.stamped.length;
  }

  snapshotsSince(mark: number): Array<{ specs: VassalSpec[]; at: number }> {
    const out: Array<{ specs: VassalSpec[]; at: number }> = [];
    for (const s of this.stamped.slice(mark)) if (s.event.type === 'snapshot') out.push({ specs: s.event.specs, at: s.at });
    return out;
  }

  errorsSince(mark: number): Array<{ error: Error; name?: string; at: number }> {
    const out: Array<{ error: Error; name?: string; at: number }> = [];
    for (const s of this.stamped.slice(mark)) {
      if (s.event.type === 'error') out.push(s.event.name === undefined ? { error: s.event.error, at: s.at } : { error: s.event.error, name: s.event.name, at: s.at });
    }
    return out;
  }

  /** The first snapshot after `mark` that satisfies `pred`. */
  snapshot(pred: (specs: VassalSpec[]) => boolean, opts: { mark?: number; timeoutMs?: number; what?: string } = {}): Promise<{ specs: VassalSpec[]; at: number }> {
    return waitFor(() => {
      if (this.failure !== undefined) throw this.failure;
      return this.snapshotsSince(opts.mark ?? 0).find((s) => pred(s.specs));
    }, { timeoutMs: opts.timeoutMs ?? 15_000, intervalMs: 10, what: opts.what ?? 'a matching snapshot' });
  }

  /** The first error after `mark` whose message matches. */
  error(match: RegExp, opts: { mark?: number; timeoutMs?: number } = {}): Promise<{ error: Error; name?: string; at: number }> {
    return waitFor(() => {
      if (this.failure !== undefined) throw this.failure;
      return this.errorsSince(opts.mark ?? 0).find((e) => match.test(e.error.message));
    }, { timeoutMs: opts.timeoutMs ?? 15_000, intervalMs: 10, what: `an error event matching ${match}` });
  }

  /** Waits until `n` more snapshots than at `mark` have arrived (reads that happened). */
  async reads(n: number, mark: number, timeoutMs = 15_000): Promise<void> {
    await waitFor(() => {
      if (this.failure !== undefined) throw this.failure;
      return this.snapshotsSince(mark).length >= n;
    }, { timeoutMs, intervalMs: 10, what: `${n} more snapshots` });
  }

  /** Stops the monitor; resolves once its iterator has ended (it must end promptly). */
  async stop(): Promise<void> {
    this.ac.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.done,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('monitor did not end within 5 s of abort')), 5_000); }),
    ]).finally(() => clearTimeout(timer));
    if (this.failure !== undefined) throw this.failure;
  }
}

export function byName(specs: VassalSpec[], name: string): VassalSpec | undefined {
  return specs.find((s) => s.name === name);
}

export function names(specs: VassalSpec[]): string[] {
  return specs.map((s) => s.name).sort();
}
