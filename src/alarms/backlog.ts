/**
 * alarm-backlog: about once a second, looks for listening sockets of the vassal's workers whose
 * accept queue is full, and reports each with uWSGI's message. The cheap case (no full queue
 * anywhere on the host) costs one shared `ss` run and no /proc walk.
 */
import type { ListenQueue } from './listen-queues.js';
import { sharedListenQueues, socketFds } from './listen-queues.js';

export const BACKLOG_POLL_MS = 1000;

export interface BacklogWatcherOptions {
  /** Current worker pids. */
  pids(): number[];
  /** Called with uWSGI's message for each full socket, on every poll while it stays full. */
  onFull(message: string): void;
  /** Called when the listen queues cannot be read; `fatal` means polling stopped. */
  onError(err: Error, fatal: boolean): void;
  intervalMs?: number;
  /** Reads every listening socket of the host (default: the shared `ss` reader). */
  read?: () => Promise<ListenQueue[]>;
  /** Resolves a pid's socket inodes to fds (default: /proc/PID/fd). */
  fds?: (pid: number) => Promise<Map<number, number>>;
}

/** Full as uWSGI counts it: as many waiting as the backlog allows (the kernel takes one more). */
export function isFull(l: ListenQueue): boolean {
  return l.queue > 0 && l.queue >= l.max;
}

export function backlogMessage(l: ListenQueue, fd: number): string {
  return `listen queue of socket "${l.address}" (fd: ${fd}) full !!! (${l.queue}/${l.max})`;
}

export class BacklogWatcher {
  private readonly opts: BacklogWatcherOptions;
  private readonly ac = new AbortController();
  private readonly read: () => Promise<ListenQueue[]>;
  private readonly fds: (pid: number) => Promise<Map<number, number>>;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private failing = false;
  private closing: Promise<void> | undefined;

  constructor(opts: BacklogWatcherOptions) {
    this.opts = opts;
    this.read = opts.read ?? sharedListenQueues();
    this.fds = opts.fds ?? socketFds;
  }

  start(): void {
    if (this.ac.signal.aborted || this.timer !== undefined || this.polling !== undefined) return;
    this.schedule(0);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ac.abort();
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      await this.polling;
    })();
    return this.closing;
  }

  /** One look at the queues; exposed so tests and callers can poll on demand. */
  async poll(): Promise<void> {
    let listeners: ListenQueue[];
    try {
      listeners = await this.read();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      if (missing) {
        this.opts.onError(new Error('cannot read listen queues: `ss` (iproute2) is not installed; alarm-backlog is off', { cause: e }), true);
        this.ac.abort();
      } else if (!this.failing) {
        this.failing = true;
        this.opts.onError(new Error(`cannot read listen queues: ${e.message}`, { cause: e }), false);
      }
      return;
    }
    this.failing = false;
    const full = new Map<number, ListenQueue>();
    for (const l of listeners) if (isFull(l)) full.set(l.inode, l);
    if (full.size === 0 || this.ac.signal.aborted) return;
    const reported = new Set<number>();
    for (const pid of this.opts.pids()) {
      const held = await this.fds(pid);
      if (this.ac.signal.aborted) return;
      for (const [inode, fd] of held) {
        const l = full.get(inode);
        if (l === undefined || reported.has(inode)) continue;
        // Workers that share an inherited listening socket report it once.
        reported.add(inode);
        this.opts.onFull(backlogMessage(l, fd));
      }
    }
  }

  private schedule(delay: number): void {
    if (this.ac.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll()
        .catch((err: unknown) => this.opts.onError(err instanceof Error ? err : new Error(String(err)), false))
        .finally(() => {
          this.polling = undefined;
          this.schedule(this.opts.intervalMs ?? BACKLOG_POLL_MS);
        });
    }, delay);
    this.timer.unref();
  }
}
