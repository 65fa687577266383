/**
 * What one AMQP message means, in uWSGI's terms:
 *
 * - routing key = vassal name, body = config text: add or reload; empty body: remove.
 * - no routing key, body = absolute path of a config file: add or reload; path gone: remove.
 * - no routing key, body = http(s) URL: fetch it; 200: add or reload; any other status: remove.
 *
 * Every message is a new revision, so re-publishing reloads. Optional headers `uid`, `gid`
 * (tyrant credentials) and `socket` (on-demand socket) complete configs carried or fetched; a
 * config read from a file takes, in tyrant mode, its owner's credentials instead.
 */
import { randomUUID } from 'node:crypto';
import { basename, normalize } from 'node:path';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { decodeConfigText, fetchConfig, readConfigFile } from '../../src/monitors/remote-file.js';
import { formatOf } from '../../src/monitors/file-names.js';
import { checkMessageVassalName } from '../../src/monitors/state-store.js';
import type { MonitorContext, MonitorEvent, VassalSpec } from '../../src/monitors/types.js';

export interface Delivery {
  routingKey: string;
  body: Buffer;
  headers?: Record<string, unknown> | undefined;
}

export interface DeliveryEnv {
  /** The monitor id: every spec's source. */
  source: string;
  ctx: MonitorContext;
  signal: AbortSignal;
  fetchTimeoutMs: number;
}

/** A path or URL is a short pointer; anything longer without a routing key is a mistake. */
const MAX_POINTER_BYTES = 4096;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

type Extras = Pick<VassalSpec, 'uid' | 'gid' | 'socket'>;

/** Never rejects: input that cannot become a vassal is an `error` event saying why. */
export async function interpretDelivery(d: Delivery, env: DeliveryEnv): Promise<MonitorEvent> {
  let name: string | undefined;
  try {
    const extras = headerExtras(d.headers);
    if (d.routingKey !== '') {
      checkMessageVassalName(d.routingKey, env.ctx.extraExtensions);
      name = d.routingKey;
      if (d.body.byteLength === 0) return { type: 'remove', name };
      const text = decodeConfigText(d.body, env.ctx.maxConfigBytes, name);
      requireTyrantIds(extras, env.ctx, name);
      return upsert({ name, source: env.source, config: { text, format: formatOf(name, env.ctx.extraExtensions, text) }, revision: randomUUID(), ...extras, pushed: true });
    }

    const pointer = decodePointer(d.body);
    if (/^https?:\/\//i.test(pointer)) {
      const url = new URL(pointer);
      const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
      const given = decodeSegment(segment, pointer);
      checkMessageVassalName(given, env.ctx.extraExtensions);
      name = given;
      const got = await fetchConfig(url.href, { maxBytes: env.ctx.maxConfigBytes, timeoutMs: env.fetchTimeoutMs, signal: env.signal });
      if (!got.found) {
        env.ctx.log.info('config URL answered without a config: removing the vassal', { vassal: name, url: pointer, status: got.status });
        return { type: 'remove', name };
      }
      requireTyrantIds(extras, env.ctx, name);
      return upsert({ name, source: env.source, config: { text: got.text, format: formatOf(name, env.ctx.extraExtensions, got.text) }, revision: randomUUID(), ...extras, pushed: true });
    }
    if (pointer.startsWith('/')) {
      const path = normalize(pointer);
      const given = basename(path);
      checkMessageVassalName(given, env.ctx.extraExtensions);
      name = given;
      const got = await readConfigFile(path, { maxBytes: env.ctx.maxConfigBytes, ownerOfLink: env.ctx.tyrantNofollow });
      if (!got.found) return { type: 'remove', name };
      const ids = env.ctx.tyrant ? { uid: got.uid, gid: got.gid } : { uid: extras.uid, gid: extras.gid };
      return upsert({ name, source: env.source, config: { text: got.text, format: formatOf(name, env.ctx.extraExtensions, got.text), path }, revision: randomUUID(), ...extras, ...ids, pushed: false });
    }
    throw new EmperorError(
      ErrorCodes.MONITOR_INPUT,
      `a message without a routing key must hold an absolute config path or an http(s) URL, got ${JSON.stringify(pointer.slice(0, 80))}`,
    );
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return name === undefined ? { type: 'error', error } : { type: 'error', error, name };
  }
}

function upsert(spec: VassalSpec): MonitorEvent {
  for (const k of ['uid', 'gid', 'socket'] as const) if (spec[k] === undefined) delete spec[k];
  return { type: 'upsert', spec };
}

function decodePointer(body: Buffer): string {
  if (body.byteLength === 0) {
    throw new EmperorError(ErrorCodes.MONITOR_INPUT, 'a message without a routing key has an empty body: expected a config path or URL');
  }
  if (body.byteLength > MAX_POINTER_BYTES) {
    throw new EmperorError(
      ErrorCodes.MONITOR_INPUT,
      `a message without a routing key has a ${body.byteLength}-byte body: expected a config path or URL (at most ${MAX_POINTER_BYTES} bytes); send config text with the vassal name as routing key`,
    );
  }
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch (err) {
    throw new EmperorError(ErrorCodes.MONITOR_INPUT, 'a message without a routing key is not valid UTF-8: expected a config path or URL', { cause: err });
  }
  // Publishers often add a newline; a NUL would cut the path short in the kernel.
  const pointer = text.trim();
  if (pointer.includes('\0')) throw new EmperorError(ErrorCodes.MONITOR_INPUT, 'the config path or URL contains a NUL byte');
  return pointer;
}

function decodeSegment(segment: string, url: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (err) {
    throw new EmperorError(ErrorCodes.MONITOR_INPUT, `the last path segment of ${url} is not valid percent-encoding`, { cause: err });
  }
}

function headerExtras(headers: Record<string, unknown> | undefined): Extras {
  const extras: Extras = {};
  if (headers === undefined) return extras;
  for (const k of ['uid', 'gid'] as const) {
    const v = headers[k];
    if (v === undefined || v === null || v === '') continue;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) {
      throw new EmperorError(ErrorCodes.MONITOR_INPUT, `message header ${k} is ${JSON.stringify(v)}: expected a decimal ${k} from 0 to 4294967294`, { key: k });
    }
    extras[k] = n;
  }
  const socket = headers.socket;
  if (socket !== undefined && socket !== null && socket !== '') {
    if (typeof socket !== 'string') {
      throw new EmperorError(ErrorCodes.MONITOR_INPUT, `message header socket is ${typeof socket}: expected a string (host:port or a unix path)`, { key: 'socket' });
    }
    extras.socket = socket;
  }
  return extras;
}

function requireTyrantIds(extras: Extras, ctx: MonitorContext, name: string): void {
  if (ctx.tyrant && (extras.uid === undefined || extras.gid === undefined)) {
    throw new EmperorError(ErrorCodes.PERMISSION, 'tyrant mode needs the uid and gid message headers for a config carried in or fetched by a message', { file: name });
  }
}
