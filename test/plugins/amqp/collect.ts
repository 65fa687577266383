/**
 * Test side of a monitor: iterates its events in the background, the way the emperor does, and
 * lets a test wait for the event it expects (with a deadline) or check what never came.
 */
import { MemoryLogger } from '../../../src/log/logger.js';
import type { Monitor, MonitorContext, MonitorEvent, VassalSpec } from '../../../src/monitors/types.js';
import { waitFor } from '../../helpers/wait.js';

export function monitorContext(stateDir: string, over: Partial<MonitorContext> = {}): MonitorContext & { log: MemoryLogger } {
  return {
    freq: 3,
    extraExtensions: [],
    nodeName: 'test-node',
    stateDir,
    tyrant: false,
    tyrantNofollow: false,
    settleMs: 0,
    maxConfigBytes: 1024 * 1024,
    ...over,
    log: new MemoryLogger(),
  };
}

export class Collector {
  readonly events: MonitorEvent[] = [];
  private readonly ac = new AbortController();
  private readonly done: Promise<void>;

  constructor(readonly monitor: Monitor) {
    this.done = (async () => {
      for await (const e of monitor.events(this.ac.signal)) {
        this.events.push(e);
      }
    })();
  }

  /** Resolves with the first event (past or future) that matches. */
  waitFor<E extends MonitorEvent>(pred: (e: MonitorEvent) => e is E, what: string, timeoutMs?: number): Promise<E>;
  waitFor(pred: (e: MonitorEvent) => boolean, what: string, timeoutMs?: number): Promise<MonitorEvent>;
  waitFor(pred: (e: MonitorEvent) => boolean, what: string, timeoutMs = 15_000): Promise<MonitorEvent> {
    return waitFor(() => this.events.find(pred), { what, timeoutMs, intervalMs: 10 });
  }

  upsert(name: string, match: (s: VassalSpec) => boolean = () => true, timeoutMs?: number): Promise<VassalSpec> {
    return this.waitFor((e) => e.type === 'upsert' && e.spec.name === name && match(e.spec), `upsert of ${name}`, timeoutMs)
      .then((e) => (e as Extract<MonitorEvent, { type: 'upsert' }>).spec);
  }

  removal(name: string, timeoutMs?: number): Promise<MonitorEvent> {
    return this.waitFor((e) => e.type === 'remove' && e.name === name, `remove of ${name}`, timeoutMs);
  }

  error(match: RegExp, timeoutMs?: number): Promise<Error> {
    return this.waitFor((e) => e.type === 'error' && match.test(e.error.message), `error matching ${match}`, timeoutMs)
      .then((e) => (e as Extract<MonitorEvent, { type: 'error' }>).error);
  }

  /** Events after the first `from` ones. */
  since(from: number): MonitorEvent[] {
    return this.events.slice(from);
  }

  /** Stops iterating; rejects if the iteration threw. */
  async stop(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}
