/**
 * The warmup of a vassal (`warmup = URL`): one GET after each (re)start becomes ready, as
 * ftw.monitor warms a Zope instance, so a health check answers OK only once caches are filled.
 */
import type { Logger } from '../log/logger.js';

export type WarmupStatus =
  | { state: 'none' }
  /** Configured; waits for the vassal to become ready. */
  | { state: 'pending'; url: string }
  | { state: 'running'; url: string; since: number }
  | { state: 'done'; url: string; at: number; status: number; ms: number }
  | { state: 'failed'; url: string; at: number; error: string };

export class Warmup {
  private current: WarmupStatus = { state: 'none' };
  private abort: AbortController | undefined;

  constructor(private readonly log: Logger) {}

  get status(): WarmupStatus {
    return this.current;
  }

  /** No warmup configured, or a new start on the way: forget the last one. */
  reset(url: string | undefined): void {
    this.cancel();
    this.current = url === undefined ? { state: 'none' } : { state: 'pending', url };
  }

  /** GETs `url` once; the body is read and dropped. */
  begin(url: string, timeoutMs: number): void {
    this.cancel();
    const abort = new AbortController();
    this.abort = abort;
    const since = Date.now();
    this.current = { state: 'running', url, since };
    this.log.info(`warming up: GET ${url}`, { event: 'warmup', url });
    const settle = (s: WarmupStatus): void => {
      if (this.abort !== abort) return;
      this.abort = undefined;
      this.current = s;
    };
    void (async () => {
      const timer = setTimeout(() => abort.abort(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      try {
        const res = await fetch(url, { signal: abort.signal, redirect: 'follow' });
        // The answer is read to its end (the warmup is the work behind it) and dropped.
        if (res.body) for await (const _chunk of res.body) void _chunk;
        const ms = Date.now() - since;
        if (res.ok) {
          settle({ state: 'done', url, at: Date.now(), status: res.status, ms });
          this.log.info(`warmup done in ${ms} ms (HTTP ${res.status})`, { event: 'warmup-done', url, status: res.status, ms });
        } else {
          settle({ state: 'failed', url, at: Date.now(), error: `HTTP ${res.status}` });
          this.log.warn(`warmup failed: GET ${url} answered HTTP ${res.status}`, { event: 'warmup-failed', url, status: res.status });
        }
      } catch (err) {
        if (this.abort !== abort) return;
        const reason = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason.message : describeFetchError(err);
        settle({ state: 'failed', url, at: Date.now(), error: reason });
        this.log.warn(`warmup failed: GET ${url}: ${reason}`, { event: 'warmup-failed', url });
      } finally {
        clearTimeout(timer);
      }
    })();
  }

  /** Abandons a warmup under way (the vassal stopped or lost its workers). */
  cancel(): void {
    const a = this.abort;
    this.abort = undefined;
    a?.abort(new Error('cancelled'));
  }
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
