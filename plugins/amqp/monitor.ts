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
    // A write still under way when the consumer stops: stopping waits for it.
    let saving: Promise<unknown> = Promise.resolve();
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
        // The fleet acts while the state store writes (two fsyncs, a few ms): the next message
        // waits for the write, so the store keeps the order the fleet saw. The broker's copy is
        // acknowledged only once it is stored.
        const stored = store.apply(event);
        saving = stored;
        yield event;
        const failed = await stored;
        if (failed !== undefined) yield { type: 'error', error: failed, name: event.type === 'upsert' ? event.spec.name : event.type === 'remove' ? event.name : undefined };
        item.ack();
      }
    } finally {
      await saving;
      await link.close();
    }
  }

  return { id: target.id, events };
}
