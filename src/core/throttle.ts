/**
 * Per-vassal restart backoff: the first restart is immediate, then the delay doubles from
 * `throttleMs` up to `maxThrottleMs`; it resets once the vassal has stayed up for `resetMs`.
 * Each vassal owns one: a crash-looping vassal never delays another's spawn (uWSGI serializes
 * every spawn behind a global throttle).
 */
export interface BackoffSettings {
  throttleMs: number;
  maxThrottleMs: number;
  resetMs: number;
}

export class Backoff {
  /** Consecutive failures since the last reset. */
  private failures = 0;
  private lastStartAt = 0;

  constructor(private readonly settings: BackoffSettings) {}

  /** Call when a worker (re)starts. */
  started(now = Date.now()): void {
    this.lastStartAt = now;
  }

  /** Call on a crash: returns the delay before the next start, in ms. */
  crashed(now = Date.now()): number {
    if (this.lastStartAt > 0 && now - this.lastStartAt >= this.settings.resetMs) this.failures = 0;
    const delay = this.failures === 0 ? 0 : Math.min(this.settings.throttleMs * 2 ** (this.failures - 1), this.settings.maxThrottleMs);
    this.failures++;
    return delay;
  }

  /** The delay the next crash would get: for stats. */
  get level(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
