/**
 * The read loop of a table-like source (a PostgreSQL query, a MongoDB collection): read every row,
 * yield the row errors and a snapshot, wait for the poll period or a nudge, repeat. A read that
 * fails yields an `error` event and never a snapshot (a failed read is not "every row deleted"),
 * then retries with a capped doubling backoff; the first good read after it yields a snapshot again.
 */
import { EmperorError, ErrorCodes, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { MonitorEvent } from '../../src/monitors/types.js';
import type { DesiredSet, SourceRow } from './desired-set.js';
import type { Wakeup } from './wakeup.js';

export interface RowReader {
  /** Every row of the source, connecting first when there is no usable connection. */
  read(): Promise<SourceRow[]>;
  /** Drops the connection; the next read opens a new one. Idempotent. */
  close(): Promise<void>;
}

export interface PollOptions {
  /** Seconds between reads when nothing nudges (`--freq`). */
  freq: number;
  reader: RowReader;
  rows: DesiredSet;
  wakeup: Wakeup;
  log: Logger;
  signal: AbortSignal;
}

/**
 * The reason a read failed, in one line. A connect to a name with several addresses (localhost:
 * ::1 and 127.0.0.1) fails with an AggregateError whose own message is empty.
 */
export function failureReason(err: unknown): string {
  if (err instanceof AggregateError && err.message === '') {
    return [...new Set(err.errors.map(failureReason))].join('; ');
  }
  const text = describeError(err);
  return text === '' ? (err instanceof Error ? err.name : String(err)) : text;
}

export const FIRST_RETRY_MS = 250;
export const MAX_RETRY_MS = 30_000;

export async function* pollRows(o: PollOptions): AsyncGenerator<MonitorEvent, void, undefined> {
  const { reader, rows, wakeup, log, signal } = o;
  const periodMs = Math.max(10, o.freq * 1000);
  const maxRetryMs = Math.min(Math.max(periodMs, FIRST_RETRY_MS), MAX_RETRY_MS);
  let retryMs = FIRST_RETRY_MS;
  let failures = 0;
  let lastReason: string | undefined;
  // An abort must not wait for a query or a connect to time out.
  const onAbort = (): void => void reader.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (!signal.aborted) {
      wakeup.take();
      let read: SourceRow[];
      try {
        read = await reader.read();
      } catch (err) {
        if (signal.aborted) break;
        failures += 1;
        const reason = failureReason(err);
        // One event per distinct reason: an outage is reported once, not at every retry.
        if (reason !== lastReason) {
          lastReason = reason;
          const error = new EmperorError(ErrorCodes.MONITOR, `cannot read the vassals: ${reason} (retrying; running vassals are kept)`, { cause: err });
          yield { type: 'error', error };
        } else {
          log.debug('read failed again', { failures, reason, retryMs });
        }
        await wakeup.sleep(retryMs, false);
        retryMs = Math.min(retryMs * 2, maxRetryMs);
        continue;
      }
      if (failures > 0) {
        log.info('source readable again', { failures });
        failures = 0;
        lastReason = undefined;
        retryMs = FIRST_RETRY_MS;
      }
      const state = rows.apply(read);
      for (const e of state.errors) {
        yield e.name === undefined ? { type: 'error', error: e.error } : { type: 'error', error: e.error, name: e.name };
      }
      yield { type: 'snapshot', specs: state.specs };
      await wakeup.sleep(periodMs);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    wakeup.close();
    await reader.close();
  }
}
