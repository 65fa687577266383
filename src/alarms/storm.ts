/**
 * What keeps one alarm from flooding its channel: the identical-message window (alarm-freq, as in
 * uWSGI), a per-minute cap (alarm-rate) that says afterwards how much it held back, and a size cap
 * on messages (alarm-msg-size) that marks what it cut instead of dropping the message.
 */

export type Admission = 'fire' | 'duplicate' | 'rate';

export interface StormOptions {
  /** The same message within this many ms fires once (0: no window). */
  freqMs: number;
  /** At most this many firings per minute (0: no cap). */
  ratePerMinute: number;
  /** Called once when a minute that held back firings ends, with how many it held back. */
  onRateReport?: (suppressed: number, windowMs: number) => void;
  /** Aborts the pending report timer. */
  signal?: AbortSignal;
  now?: () => number;
}

export const RATE_WINDOW_MS = 60_000;

export class StormGuard {
  private readonly freqMs: number;
  private readonly rate: number;
  private readonly now: () => number;
  private readonly onRateReport: ((suppressed: number, windowMs: number) => void) | undefined;
  private readonly signal: AbortSignal | undefined;
  private lastMessage: string | undefined;
  private lastAt = Number.NEGATIVE_INFINITY;
  private windowStart = Number.NEGATIVE_INFINITY;
  private windowCount = 0;
  private windowSuppressed = 0;
  private reportTimer: NodeJS.Timeout | undefined;

  constructor(opts: StormOptions) {
    this.freqMs = opts.freqMs;
    this.rate = opts.ratePerMinute;
    this.now = opts.now ?? Date.now;
    this.onRateReport = opts.onRateReport;
    this.signal = opts.signal;
    this.signal?.addEventListener('abort', () => this.cancelReport(), { once: true });
  }

  /** Decides whether this message fires now; a 'fire' counts against the window and the cap. */
  admit(message: string): Admission {
    const now = this.now();
    // Only a firing moves the window: a message repeated forever fires once every freqMs.
    if (this.freqMs > 0 && now - this.lastAt < this.freqMs && message === this.lastMessage) return 'duplicate';
    if (this.rate > 0) {
      if (now - this.windowStart >= RATE_WINDOW_MS) this.openWindow(now);
      if (this.windowCount >= this.rate) {
        this.windowSuppressed++;
        if (this.windowSuppressed === 1) this.scheduleReport(now);
        return 'rate';
      }
      this.windowCount++;
    }
    this.lastMessage = message;
    this.lastAt = now;
    return 'fire';
  }

  /** Firings held back by the cap in the current window and not yet reported. */
  get pendingSuppressed(): number {
    return this.windowSuppressed;
  }

  /** Reports what the current window held back now (used on close), and forgets it. */
  flush(): number {
    const n = this.windowSuppressed;
    this.windowSuppressed = 0;
    this.cancelReport();
    return n;
  }

  private openWindow(now: number): void {
    if (this.windowSuppressed > 0) this.report();
    this.windowStart = now;
    this.windowCount = 0;
  }

  private scheduleReport(now: number): void {
    if (this.signal?.aborted) return;
    const delay = Math.max(0, this.windowStart + RATE_WINDOW_MS - now);
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      this.report();
    }, delay);
    this.reportTimer.unref();
  }

  private report(): void {
    this.cancelReport();
    const n = this.windowSuppressed;
    this.windowSuppressed = 0;
    if (n > 0) this.onRateReport?.(n, RATE_WINDOW_MS);
  }

  private cancelReport(): void {
    if (this.reportTimer !== undefined) clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
  }
}

/**
 * Caps a message at maxBytes of UTF-8, cutting on a character boundary and saying so at the end:
 * a reader must never mistake a cut message for the whole one. Below the size of that note, the
 * note alone is the message.
 */
export function capMessage(message: string, maxBytes: number): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: short messages skip the byte count.
  if (message.length * 3 <= maxBytes) return message;
  const total = Buffer.byteLength(message, 'utf8');
  if (total <= maxBytes) return message;
  const note = ` [truncated: ${total} bytes, alarm-msg-size ${maxBytes}]`;
  const keep = Math.max(0, maxBytes - Buffer.byteLength(note, 'utf8'));
  const buf = Buffer.from(message, 'utf8');
  let cut = keep;
  // Back off continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (cut > 0 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return buf.toString('utf8', 0, cut) + note;
}
