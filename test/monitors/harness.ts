/**
 * Runs a monitor and records what it says, so tests can wait for an event with a deadline and
 * then assert on everything that came (no flaps, no repeats).
 */
import { MemoryLogger } from '../../src/log/logger.js';
import type { Monitor, MonitorContext, MonitorEvent, VassalSpec } from '../../src/monitors/types.js';
import { waitFor } from '../helpers/wait.js';

export function testContext(over: Partial<MonitorContext> = {}): MonitorContext {
  return {
    freq: 30,
    extraExtensions: [],
    nodeName: 'test-node',
    stateDir: '/nonexistent',
    tyrant: false,
    tyrantNofollow: false,
    settleMs: 20,
    maxConfigBytes: 1024 * 1024,
    log: new MemoryLogger(),
    ...over,
  };
}

export type Upsert = Extract<MonitorEvent, { type: 'upsert' }>;
export type Snapshot = Extract<MonitorEvent, { type: 'snapshot' }>;
export type Remove = Extract<MonitorEvent, { type: 'remove' }>;
export type ErrorEvent = Extract<MonitorEvent, { type: 'error' }>;

export class Recorder {
  readonly events: MonitorEvent[] = [];
  private readonly ac = new AbortController();
  readonly done: Promise<void>;

  constructor(monitor: Monitor) {
    this.done = (async () => {
      for await (const ev of monitor.events(this.ac.signal)) this.events.push(ev);
    })();
  }

  /** Index of the next event, to look only at what comes after an action. */
  get mark(): number {
    return this.events.length;
  }

  since(mark: number): MonitorEvent[] {
    return this.events.slice(mark);
  }

  /** The first event at or after `from` that satisfies pred. */
  async next<T extends MonitorEvent>(pred: (e: MonitorEvent) => e is T, what: string, from = 0, timeoutMs = 10_000): Promise<T> {
    return waitFor(() => this.events.slice(from).find(pred), { what, timeoutMs });
  }

  snapshot(from = 0, what = 'a snapshot'): Promise<Snapshot> {
    return this.next(isSnapshot, what, from);
  }

  /**
   * Resolves once the watcher is up: the monitor scans once more when it is, and that scan's
   * snapshot is the second one. Tests that prove an event came from the watcher (not a rescan)
   * start acting after this.
   */
  async watching(): Promise<void> {
    await waitFor(() => this.events.filter(isSnapshot).length >= 2, { what: 'the snapshot that follows the watcher set-up' });
  }

  upsert(name: string, from = 0, extra: (s: VassalSpec) => boolean = () => true): Promise<Upsert> {
    return this.next((e): e is Upsert => e.type === 'upsert' && e.spec.name === name && extra(e.spec), `upsert of ${name}`, from);
  }

  removal(name: string, from = 0): Promise<Remove> {
    return this.next((e): e is Remove => e.type === 'remove' && e.name === name, `remove of ${name}`, from);
  }

  error(match: (e: ErrorEvent) => boolean, what: string, from = 0): Promise<ErrorEvent> {
    return this.next((e): e is ErrorEvent => e.type === 'error' && match(e), what, from);
  }

  /** Events about one vassal name (upsert, remove, error) from a mark on. */
  about(name: string, from = 0): MonitorEvent[] {
    return this.since(from).filter(
      (e) => (e.type === 'upsert' && e.spec.name === name) || (e.type === 'remove' && e.name === name) || (e.type === 'error' && e.name === name),
    );
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await this.done;
  }
}

export function isSnapshot(e: MonitorEvent): e is Snapshot {
  return e.type === 'snapshot';
}

export function names(s: Snapshot): string[] {
  return s.specs.map((x) => x.name).sort();
}

export function specIn(s: Snapshot, name: string): VassalSpec | undefined {
  return s.specs.find((x) => x.name === name);
}
