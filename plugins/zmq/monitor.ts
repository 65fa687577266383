/**
 * `zmq://` imperial monitor: the emperor binds a PULL socket and publishers PUSH multipart
 * commands to it; the vassals they announce are remembered across emperor restarts.
 *
 * Messages are received one at a time, only when the previous one is handled, so a flood waits
 * in zmq's bounded queues (receive high-water mark, then the publishers' send queues) rather than
 * in the emperor's memory. A part above the config size cap is refused with an error event; one
 * above twice the cap is refused by libzmq itself before it is buffered, which disconnects the
 * publisher and drops its message (and whatever that connection still had queued).
 */
import { Pull } from 'zeromq';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { StateStore } from '../../src/monitors/state-store.js';
import type { Monitor, MonitorContext, MonitorEvent } from '../../src/monitors/types.js';
import { interpretParts } from './message.js';
import { parseZmqTarget } from './endpoint.js';

export interface ZmqMonitorOptions {
  /** Messages libzmq holds for the emperor before publishers have to wait (default 64). */
  receiveHighWaterMark?: number;
  /** Bind retry delay: doubles per failure from `minDelayMs` up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export function createZmqMonitor(arg: string, ctx: MonitorContext, opts: ZmqMonitorOptions = {}): Monitor {
  const target = parseZmqTarget(arg);
  const store = new StateStore(ctx.stateDir, target.id);
  const log = ctx.log.child({ monitor: target.id });
  const hwm = opts.receiveHighWaterMark ?? 64;
  const minDelayMs = opts.minDelayMs ?? 250;
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  // Parts up to twice the cap are still received, to be refused with a reason; larger ones are
  // dropped by libzmq before they are buffered.
  const dropAbove = Math.min(2 * ctx.maxConfigBytes, Number.MAX_SAFE_INTEGER);
  // `touch` without a config names a file in the directory the emperor was started from.
  const cwd = process.cwd();

  async function* events(signal: AbortSignal): AsyncGenerator<MonitorEvent> {
    if (signal.aborted) return;
    for (const event of await store.restore()) yield event;
    const env = { source: target.id, ctx: { ...ctx, log }, cwd };

    let delay = minDelayMs;
    let failing = false;
    // A write still under way when the consumer stops: stopping waits for it.
    let saving: Promise<unknown> = Promise.resolve();
    while (!signal.aborted) {
      const sock = new Pull({ maxMessageSize: dropAbove, receiveHighWaterMark: hwm, linger: 0 });
      const onAbort = (): void => sock.close();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        try {
          await sock.bind(target.endpoint);
        } catch (err) {
          if (signal.aborted) return;
          const error = new EmperorError(ErrorCodes.MONITOR, `cannot bind ${target.endpoint}: ${messageOf(err)}; retrying`, { file: target.id, cause: err });
          if (!failing) yield { type: 'error', error };
          else log.warn('zmq endpoint still cannot be bound', { reason: messageOf(err), retryMs: delay });
          failing = true;
          await sleep(delay, signal);
          delay = Math.min(delay * 2, maxDelayMs);
          continue;
        }
        log.info('zmq bound', { endpoint: target.endpoint });
        failing = false;
        void watchPeers(sock, log, dropAbove);
        for (;;) {
          let parts: Buffer[];
          try {
            parts = await sock.receive();
          } catch (err) {
            if (signal.aborted || sock.closed) return;
            // A receive that fails with the socket open is libzmq's to explain; rebind afresh.
            yield { type: 'error', error: new EmperorError(ErrorCodes.MONITOR, `receiving on ${target.endpoint} failed: ${messageOf(err)}; rebinding`, { file: target.id, cause: err }) };
            await sleep(delay, signal);
            delay = Math.min(delay * 2, maxDelayMs);
            break;
          }
          delay = minDelayMs;
          const event = await interpretParts(parts, env);
          if (signal.aborted) return;
          // The fleet acts while the state store writes (two fsyncs, a few ms): the next message
          // waits for the write, so the store keeps the order the fleet saw.
          const stored = store.apply(event);
          saving = stored;
          yield event;
          const failed = await stored;
          if (failed !== undefined) yield { type: 'error', error: failed, name: event.type === 'upsert' ? event.spec.name : event.type === 'remove' ? event.name : undefined };
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        sock.close();
        await saving;
      }
    }
  }

  return { id: target.id, events };
}

/**
 * libzmq drops an oversized part by disconnecting its publisher, and tells no reason: a
 * disconnect is all there is to see, so it is logged where an operator looking for a lost
 * message will find it.
 */
async function watchPeers(sock: Pull, log: Logger, maxBytes: number): Promise<void> {
  try {
    for await (const ev of sock.events) {
      if (ev.type === 'disconnect') {
        log.debug('zmq publisher disconnected (libzmq also disconnects a publisher that sends a part above the drop limit)', { dropAboveBytes: maxBytes });
      } else if (ev.type === 'handshake:error:protocol' || ev.type === 'handshake:error:other' || ev.type === 'accept:error') {
        log.warn('zmq publisher refused', { event: ev.type, reason: ev.error.message });
      }
    }
  } catch (err) {
    if (!sock.closed) log.debug('zmq socket events unavailable', { reason: messageOf(err) });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
