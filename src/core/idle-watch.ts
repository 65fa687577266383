/**
 * `idle = SECONDS` for programs that do not stop on their own: the emperor looks at the kernel's
 * connection tables and calls onIdle once no connection has been seen on the on-demand socket
 * for that long (one waiting in the backlog counts, so a client arriving meanwhile is never left
 * behind). Checks a few times per idle period, at most once a second.
 */
import { countConnections, sharedConnectionTable, type ConnectionTable } from './connections.js';
import type { ListenAddress } from './listen-address.js';

const shared = sharedConnectionTable();

export interface IdleWatchOptions {
  address: ListenAddress;
  /** Read at each check, so a reload that changes `idle` applies at once. */
  idleMs(): number | undefined;
  onIdle(): void;
  /** A failed read; the watch keeps trying. */
  onError(err: Error): void;
  read?: () => Promise<ConnectionTable>;
}

export class IdleWatch {
  private readonly ac = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private lastBusy = Date.now();
  private failing = false;
  private closing: Promise<void> | undefined;
  private checking: Promise<void> | undefined;

  constructor(private readonly o: IdleWatchOptions) {}

  start(): void {
    if (this.ac.signal.aborted || this.timer) return;
    this.lastBusy = Date.now();
    this.schedule();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ac.abort();
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      await this.checking;
    })();
    return this.closing;
  }

  private interval(): number {
    const idle = this.o.idleMs() ?? 1000;
    return Math.min(1000, Math.max(100, Math.floor(idle / 4)));
  }

  private schedule(): void {
    if (this.ac.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.checking = this.check().finally(() => {
        this.checking = undefined;
      });
    }, this.interval());
  }

  private async check(): Promise<void> {
    let busy: number;
    try {
      busy = countConnections(await (this.o.read ?? shared)(), this.o.address);
      this.failing = false;
    } catch (err) {
      if (!this.failing && !this.ac.signal.aborted) this.o.onError(err instanceof Error ? err : new Error(String(err)));
      this.failing = true;
      this.schedule();
      return;
    }
    if (this.ac.signal.aborted) return;
    const now = Date.now();
    if (busy > 0) this.lastBusy = now;
    const idle = this.o.idleMs();
    if (idle !== undefined && now - this.lastBusy >= idle) {
      this.ac.abort();
      this.o.onIdle();
      return;
    }
    this.schedule();
  }
}
