/**
 * `amqp://` imperial monitor: vassals announced on an AMQP exchange, remembered across emperor
 * restarts. Messages are handled one at a time in arrival order and acknowledged once their
 * event has been taken, so the broker's prefetch is all that waits in memory.
 */
import type { Monitor, MonitorContext, MonitorEvent } from '../../src/monitors/types.js';
import { StateStore } from '../../src/monitors/state-store.js';
import { Inbox } from './inbox.js';
import { AmqpLink, DEFAULT_LINK_OPTIONS, type LinkItem, type LinkOptions } from './link.js';
import { interpretDelivery } from './message.js';
import { parseAmqpTarget } from './target.js';

export interface AmqpMonitorOptions {
  /** How long an http(s) config may take to arrive (default 10 s). */
  fetchTimeoutMs?: number;
  /** Prefetch and reconnect timing. */
  link?: Partial<LinkOptions>;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

export function createAmqpMonitor(arg: string, ctx: MonitorContext, opts: AmqpMonitorOptions = {}): Monitor {
  const target = parseAmqpTarget(arg);
  const store = new StateStore(ctx.stateDir, target.id);
  const log = ctx.log.child({ monitor: target.id });
  const linkOptions: LinkOptions = { ...DEFAULT_LINK_OPTIONS, ...opts.link };
  const fetchTimeoutMs = opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;

  async function* events(signal: AbortSignal): AsyncGenerator<MonitorEvent> {
    if (signal.aborted) return;
    // Subscribe first: messages published while the stored fleet is being restored wait in
    // the queue and are applied after it, so they win.
    const inbox = new Inbox<LinkItem>(signal);
    const link = new AmqpLink(target, inbox, log, linkOptions);
    link.start(signal);
    try {
      for (const event of await store.restore()) yield event;
      const env = { source: target.id, ctx: { ...ctx, log }, signal, fetchTimeoutMs };
      for await (const item of inbox) {
        if (item.kind === 'error') {
          yield { type: 'error', error: item.error };
          continue;
        }
        const event = await interpretDelivery(item.delivery, env);
        if (signal.aborted) return;
        const failed = await store.apply(event);
        if (failed !== undefined) yield { type: 'error', error: failed, name: event.type === 'upsert' ? event.spec.name : event.type === 'remove' ? event.name : undefined };
        yield event;
        item.ack();
      }
    } finally {
      await link.close();
    }
  }

  return { id: target.id, events };
}
