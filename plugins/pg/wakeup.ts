/**
 * What a polling monitor waits on between reads: the poll period, a nudge from its source (a
 * NOTIFY, a change event, a dropped connection) or the end of the monitor. Nudges are coalesced
 * over a short fixed window, so a burst of row changes costs one re-read; a nudge that lands while
 * a read is running is kept for the next wait, so a change committed mid-read is never missed.
 */
export class Wakeup {
  private dirty = false;
  private debounce: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private wakeOnNudge = false;
  private readonly onAbort = (): void => this.wake?.();

  constructor(
    private readonly debounceMs: number,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Something may have changed at the source: read again soon. */
  nudge(): void {
    if (this.signal.aborted || this.debounce !== undefined) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.dirty = true;
      if (this.wakeOnNudge) this.wake?.();
    }, this.debounceMs);
  }

  /** Marks the start of a read: every nudge so far is answered by it. */
  take(): void {
    this.dirty = false;
  }

  /**
   * Resolves after `ms`, at abort, and (when `nudgeable`) at a nudge. Backoff after a failure is
   * not nudgeable: a dropped connection must not turn retries into a busy loop.
   */
  sleep(ms: number, nudgeable = true): Promise<void> {
    if (this.signal.aborted || (nudgeable && this.dirty)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      this.wakeOnNudge = nudgeable;
    });
  }

  close(): void {
    clearTimeout(this.debounce);
    this.debounce = undefined;
    this.signal.removeEventListener('abort', this.onAbort);
    this.wake?.();
  }
}
