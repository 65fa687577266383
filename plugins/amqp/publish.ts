/**
 * Announcing vassals to emperors over AMQP (`emperor publish amqp://...`). Takes the same URL as
 * the monitor, so exchange, type and vhost match without repeating them, and waits for the
 * broker's confirm: when it resolves, every emperor queue bound to the exchange holds the message.
 */
import amqp from 'amqplib';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { ensureExchange } from './link.js';
import { parseAmqpTarget } from './target.js';

export interface AmqpMessage {
  /** The vassal name (routing key). With it, `body` is the config text (empty: remove the vassal). Without it, `body` is a config path or http(s) URL. */
  name?: string;
  body: string | Buffer;
}

export interface AmqpPublishOptions {
  /** Message headers `uid`, `gid` (tyrant credentials) and `socket` (on-demand socket). */
  uid?: number;
  gid?: number;
  socket?: string;
  /** Give up after this long (connect + confirm); default 10 s. */
  timeoutMs?: number;
}

export async function publishAmqp(url: string, msg: AmqpMessage, opts: AmqpPublishOptions = {}): Promise<void> {
  const target = parseAmqpTarget(url);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const fail = (why: string, cause?: unknown): EmperorError =>
    new EmperorError(ErrorCodes.MONITOR, `publishing to ${target.id} (exchange ${target.exchange}) failed: ${why}`, { file: target.id, cause });

  const headers: Record<string, unknown> = {};
  if (opts.uid !== undefined) headers.uid = opts.uid;
  if (opts.gid !== undefined) headers.gid = opts.gid;
  if (opts.socket !== undefined) headers.socket = opts.socket;

  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail(`no confirm from the broker within ${timeoutMs} ms`)), timeoutMs);
  });
  let conn: amqp.ChannelModel | undefined;
  const work = (async () => {
    conn = await amqp.connect(target.connect, { timeout: timeoutMs, clientProperties: { connection_name: 'emperor publish' } });
    conn.on('error', () => undefined);
    await ensureExchange(conn, target);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    const body = typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : msg.body;
    await new Promise<void>((resolve, reject) => {
      ch.publish(target.exchange, msg.name ?? '', body, { headers, contentType: 'text/plain' }, (err) => {
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      });
    });
  })();
  try {
    await Promise.race([work, expired]);
  } catch (err) {
    work.catch(() => undefined);
    if (err instanceof EmperorError) throw err;
    throw fail(err instanceof Error ? err.message : String(err), err);
  } finally {
    clearTimeout(timer);
    await conn?.close().catch(() => undefined);
  }
}
