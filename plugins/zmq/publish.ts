/**
 * Sending a command to an emperor's zmq monitor (`emperor publish zmq://...`). Resolves once
 * the message is handed to a connected emperor's socket; rejects if none accepts it in time.
 */
import { Push } from 'zeromq';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { parseZmqTarget } from './endpoint.js';

export interface ZmqPublishOptions {
  /** Give up when no emperor takes the message within this long; default 10 s. */
  timeoutMs?: number;
}

/**
 * `endpoint`: `zmq://tcp://HOST:PORT`, `tcp://HOST:PORT` or the ipc forms.
 * `parts`: `[command, name, config?, uid?, gid?, socket?]`, e.g. `['touch', 'app.ini', text]`.
 */
export async function publishZmq(endpoint: string, parts: ReadonlyArray<string | Buffer>, opts: ZmqPublishOptions = {}): Promise<void> {
  const target = parseZmqTarget(endpoint);
  if (parts.length === 0) throw new EmperorError(ErrorCodes.USAGE, 'zmq publish: no message parts: expected [command, name, config?, uid?, gid?, socket?]');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  // immediate: queue only to a completed connection, so "nobody is listening" is a timeout
  // rather than a message parked forever. linger: closing waits (bounded) for it to leave.
  const sock = new Push({ immediate: true, sendTimeout: timeoutMs, linger: timeoutMs });
  try {
    sock.connect(target.endpoint);
    await sock.send([...parts]);
  } catch (err) {
    const why = isCode(err, 'EAGAIN') ? `no emperor accepted the message within ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    throw new EmperorError(ErrorCodes.MONITOR, `publishing to ${target.id} failed: ${why}`, { file: target.id, cause: err });
  } finally {
    sock.close();
  }
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
