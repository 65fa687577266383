/**
 * The `amqp://` monitor argument: where the broker is, who we are there, and which exchange the
 * emperor listens on. The same string works for the monitor and for publishing.
 *
 *   amqp[s]://[user[:pass]@]host[:port][/vhost][?exchange=NAME&type=TYPE&binding=KEY&durable=BOOL&heartbeat=S]
 */
import type { Options } from 'amqplib';
import { EmperorError, ErrorCodes } from '../../src/errors.js';

export type ExchangeType = 'fanout' | 'direct' | 'topic';

export interface AmqpTarget {
  /** The argument with its password masked: the monitor id. */
  id: string;
  /** What amqplib connects with. */
  connect: Options.Connect;
  exchange: string;
  type: ExchangeType;
  /** Binding keys of the emperor's queue; one binding per key. */
  bindings: string[];
  /** Whether the exchange is created durable, when the emperor is the one creating it. */
  durable: boolean;
}

export const DEFAULT_EXCHANGE = 'uwsgi.emperor';
const TYPES: readonly ExchangeType[] = ['fanout', 'direct', 'topic'];
const KNOWN_PARAMS = new Set(['exchange', 'type', 'binding', 'durable', 'heartbeat']);
const DEFAULT_HEARTBEAT_S = 10;

export function parseAmqpTarget(arg: string): AmqpTarget {
  const usage = (why: string, key?: string): EmperorError =>
    new EmperorError(ErrorCodes.USAGE, `amqp monitor ${maskAmqpPassword(arg)}: ${why}`, key === undefined ? {} : { key });
  let url: URL;
  try {
    url = new URL(arg);
  } catch (err) {
    throw new EmperorError(ErrorCodes.USAGE, `amqp monitor: ${JSON.stringify(maskAmqpPassword(arg))} is not a URL: expected amqp://[user:pass@]host[:port][/vhost]`, { cause: err });
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') throw usage(`scheme is ${url.protocol}, expected amqp: or amqps:`);
  if (url.hostname === '') throw usage('host is missing: expected amqp://host[:port]');

  const q = url.searchParams;
  for (const key of q.keys()) {
    if (!KNOWN_PARAMS.has(key)) throw usage(`unknown query parameter ${JSON.stringify(key)}: expected one of ${[...KNOWN_PARAMS].join(', ')}`, key);
  }
  const single = (key: string): string | undefined => {
    const all = q.getAll(key);
    if (all.length > 1) throw usage(`query parameter ${key} is given ${all.length} times, expected once`, key);
    return all[0];
  };

  const exchange = single('exchange') ?? DEFAULT_EXCHANGE;
  // The empty name is the broker's default exchange, which cannot be bound to.
  if (exchange === '') throw usage('exchange is "": expected a name such as uwsgi.emperor', 'exchange');
  if (Buffer.byteLength(exchange) > 255) throw usage('exchange is longer than 255 bytes', 'exchange');

  const typeText = single('type') ?? 'fanout';
  if (!TYPES.includes(typeText as ExchangeType)) throw usage(`type is ${JSON.stringify(typeText)}, expected one of ${TYPES.join(', ')}`, 'type');
  const type = typeText as ExchangeType;

  const given = q.getAll('binding');
  const bindings = given.length > 0 ? given : [type === 'topic' ? '#' : ''];
  for (const b of bindings) if (Buffer.byteLength(b) > 255) throw usage('binding is longer than 255 bytes', 'binding');

  const durableText = single('durable') ?? 'false';
  if (durableText !== 'true' && durableText !== 'false') throw usage(`durable is ${JSON.stringify(durableText)}, expected true or false`, 'durable');

  const heartbeatText = single('heartbeat') ?? String(DEFAULT_HEARTBEAT_S);
  if (!/^\d{1,5}$/.test(heartbeatText) || Number(heartbeatText) > 65535) {
    throw usage(`heartbeat is ${JSON.stringify(heartbeatText)}, expected whole seconds from 0 to 65535`, 'heartbeat');
  }

  const secure = url.protocol === 'amqps:';
  const path = url.pathname;
  const vhost = path === '' || path === '/' ? '/' : decodePart(path.slice(1), 'vhost', usage);
  const connect: Options.Connect = {
    protocol: secure ? 'amqps' : 'amqp',
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 5671 : 5672) : Number(url.port),
    vhost,
    heartbeat: Number(heartbeatText),
  };
  if (url.username !== '' || url.password !== '') {
    connect.username = decodePart(url.username, 'user', usage);
    connect.password = decodePart(url.password, 'password', usage);
  }
  return { id: maskAmqpPassword(arg), connect, exchange, type, bindings, durable: durableText === 'true' };
}

/** The argument as given, with the password (if any) replaced by `***`. */
export function maskAmqpPassword(arg: string): string {
  return arg.replace(/^(amqps?:\/\/[^:@/?#]*:)[^@/?#]*@/i, '$1***@');
}

function decodePart(text: string, what: string, usage: (why: string, key?: string) => EmperorError): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw usage(`${what} is not valid percent-encoding`, what);
  }
}
