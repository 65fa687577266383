/** Turning an aborted run into an error that says why (alarm-timeout, the curl timeout, a stop). */
import { EmperorError, ErrorCodes } from '../../src/errors.js';

export function abortReason(signal: AbortSignal, target: string): Error {
  const r: unknown = signal.reason;
  if (r instanceof EmperorError) return new EmperorError(r.code, `${target}: ${r.message}`, { cause: r });
  if (typeof r === 'object' && r !== null && (r as { name?: unknown }).name === 'TimeoutError') {
    return new EmperorError(ErrorCodes.ALARM_ACTION, `${target}: no answer within the curl timeout`, { cause: r });
  }
  return new EmperorError(ErrorCodes.ALARM_ACTION, `${target}: aborted`, { cause: r });
}

/** The run's signal, narrowed by the action's own `timeout` option when it has one. */
export function withTimeout(signal: AbortSignal, timeoutMs: number | undefined): AbortSignal {
  return timeoutMs === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
}
