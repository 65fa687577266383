/**
 * The emperor's subscription to the broker: connect, make sure the exchange exists, bind an
 * exclusive auto-delete server-named queue (so every subscribed emperor gets every message), and
 * consume with a bounded prefetch. A lost connection is reported once and retried with capped,
 * jittered backoff; what the vassals do is not its business.
 */
import { randomInt } from 'node:crypto';
import amqp from 'amqplib';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { Inbox } from './inbox.js';
import type { Delivery } from './message.js';
import type { AmqpTarget } from './target.js';

export type LinkItem =
  | { kind: 'delivery'; delivery: Delivery; ack: () => void }
  | { kind: 'error'; error: Error };

export interface LinkOptions {
  /** Unacknowledged messages the broker may hand over at once: the bound on buffered messages. */
  prefetch: number;
  /** Reconnect delay: starts at `minDelayMs`, doubles per failure, never above `maxDelayMs`. */
  minDelayMs: number;
  maxDelayMs: number;
  /** A connection that lasted this long resets the delay. */
  stableMs: number;
  connectTimeoutMs: number;
}

export const DEFAULT_LINK_OPTIONS: LinkOptions = {
  prefetch: 64,
  minDelayMs: 250,
  maxDelayMs: 30_000,
  stableMs: 30_000,
  connectTimeoutMs: 10_000,
};

export class AmqpLink {
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private conn: ChannelModel | undefined;

  constructor(
    private readonly target: AmqpTarget,
    private readonly inbox: Inbox<LinkItem>,
    private readonly log: Logger,
    private readonly opts: LinkOptions = DEFAULT_LINK_OPTIONS,
  ) {}

  start(signal: AbortSignal): void {
    if (this.running !== undefined) return;
    if (signal.aborted) this.abort.abort();
    else signal.addEventListener('abort', () => void this.close(), { once: true });
    this.running = this.run().catch((err: unknown) => {
      // run() handles its own faults; this is the last guard against a silent stop.
      this.log.error('amqp link stopped unexpectedly', { err });
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort();
      await this.conn?.close().catch(() => undefined);
      await this.running;
    })();
    return this.closing;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const stopped = aborted(signal);
    let delay = this.opts.minDelayMs;
    // Only the first failure of a streak becomes an error event; the rest are logged.
    let failing = false;
    while (!signal.aborted) {
      const startedAt = Date.now();
      let lost: Promise<Error | undefined>;
      try {
        ({ lost } = await this.subscribe());
      } catch (err) {
        await this.conn?.close().catch(() => undefined);
        this.conn = undefined;
        if (signal.aborted) return;
        const why = messageOf(err);
        if (!failing) {
          this.inbox.push({ kind: 'error', error: new EmperorError(ErrorCodes.MONITOR, `cannot subscribe to the broker: ${why}; retrying`, { file: this.target.id, cause: err }) });
          failing = true;
        } else {
          this.log.warn('amqp broker still unreachable', { reason: why, retryMs: delay });
        }
        await sleep(jitter(delay), signal);
        delay = Math.min(delay * 2, this.opts.maxDelayMs);
        continue;
      }
      this.log.info(failing ? 'amqp broker reachable again: subscribed' : 'amqp subscribed', { exchange: this.target.exchange });
      failing = false;

      const err = await Promise.race([lost, stopped]);
      this.conn = undefined;
      if (signal.aborted) return;
      this.inbox.push({
        kind: 'error',
        error: new EmperorError(ErrorCodes.MONITOR, `lost the broker connection (${err === undefined ? 'closed' : err.message}); vassals keep running; reconnecting`, { file: this.target.id, cause: err }),
      });
      failing = true;
      if (Date.now() - startedAt >= this.opts.stableMs) delay = this.opts.minDelayMs;
      await sleep(jitter(delay), signal);
      delay = Math.min(delay * 2, this.opts.maxDelayMs);
    }
  }

  /** Connects and starts consuming; `lost` settles when the connection ends. */
  private async subscribe(): Promise<{ lost: Promise<Error | undefined> }> {
    const t = this.target;
    const conn = await amqp.connect(t.connect, {
      timeout: this.opts.connectTimeoutMs,
      clientProperties: { connection_name: `emperor monitor ${t.id}` },
    });
    this.conn = conn;
    let lastError: Error | undefined;
    conn.on('error', (err: Error) => { lastError = err; });
    const lost = new Promise<Error | undefined>((resolve) => {
      conn.on('close', (err?: Error) => resolve(err ?? lastError));
    });
    if (this.abort.signal.aborted) {
      await conn.close().catch(() => undefined);
      return { lost };
    }

    await ensureExchange(conn, t);
    const ch = await conn.createChannel();
    // A channel the server closes (exchange deleted under us, bad ack) ends the connection, so
    // the next attempt starts clean.
    ch.on('error', (err: Error) => { lastError = err; });
    ch.on('close', () => { void conn.close().catch(() => undefined); });
    await ch.prefetch(this.opts.prefetch);
    const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    for (const key of t.bindings) await ch.bindQueue(queue, t.exchange, key);
    await ch.consume(queue, (msg) => this.onMessage(ch, conn, msg), { noAck: false });
    return { lost };
  }

  private onMessage(ch: Channel, conn: ChannelModel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the consumer (queue deleted): resubscribe from scratch.
      void conn.close().catch(() => undefined);
      return;
    }
    const headers = msg.properties.headers as Record<string, unknown> | undefined;
    this.inbox.push({
      kind: 'delivery',
      delivery: { routingKey: msg.fields.routingKey, body: msg.content, headers },
      ack: () => {
        try {
          ch.ack(msg);
        } catch {
          // The channel is gone with its exclusive queue; nothing is left to acknowledge.
        }
      },
    });
  }
}

/**
 * Uses the exchange as it is when it exists (publishers or uWSGI may have declared it with other
 * flags); creates it only when it does not, on throwaway channels so a refusal cannot break the
 * consuming one.
 */
export async function ensureExchange(conn: ChannelModel, t: Pick<AmqpTarget, 'exchange' | 'type' | 'durable'>): Promise<void> {
  const probe = await conn.createChannel();
  probe.on('error', () => undefined);
  try {
    await probe.checkExchange(t.exchange);
    await probe.close().catch(() => undefined);
    return;
  } catch (err) {
    if (codeOf(err) !== 404) throw err;
  }
  const declare = await conn.createChannel();
  let refusal: Error | undefined;
  declare.on('error', (err: Error) => { refusal = err; });
  try {
    await declare.assertExchange(t.exchange, t.type, { durable: t.durable, autoDelete: false });
  } catch (err) {
    throw refusal ?? err;
  }
  await declare.close().catch(() => undefined);
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message || String((err as { code?: unknown }).code ?? err.name);
  return String(err);
}

function jitter(ms: number): number {
  return Math.round(ms * (0.8 + randomInt(0, 401) / 1000));
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

function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}
