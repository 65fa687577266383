/**
 * The connection half of a `pg://` argument: a libpq conninfo (`host=127.0.0.1 dbname=emperor`) or
 * a `postgres://` URL. Two keys belong to the monitor, not to PostgreSQL, and are taken out before
 * connecting: `channel` (the LISTEN channel) and `statement_timeout`. A URL carries them as query
 * parameters (`?channel=fleet&statement_timeout=5s`).
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig } from 'pg';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { parseConninfo, type Conninfo } from './conninfo.js';

export const DEFAULT_CHANNEL = 'emperor_vassals';
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The conninfo keywords understood (libpq's names); anything else is refused rather than ignored. */
export const CONNINFO_KEYS = [
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'application_name',
  'fallback_application_name', 'options', 'client_encoding', 'connect_timeout',
  'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword',
] as const;
const MONITOR_KEYS = ['channel', 'statement_timeout'];
const SECRET_KEYS = new Set(['password', 'sslpassword']);
const URL_SCHEME = /^postgres(?:ql)?:\/\//i;

export interface PgConnection {
  /** The LISTEN channel; undefined when LISTEN is switched off (`channel=''`). */
  channel: string | undefined;
  /** 0: no limit. */
  statementTimeoutMs: number;
  /** The connection text as given, passwords replaced by `***`. */
  masked: string;
  /** What pg.Client takes; certificate files are read at each connect, so renewed ones are used. */
  clientConfig(): Promise<ClientConfig>;
}

export function isPgUrl(text: string): boolean {
  return URL_SCHEME.test(text.trimStart());
}

function usage(option: string, message: string, cause?: unknown): EmperorError {
  return new EmperorError(ErrorCodes.USAGE, `${option}: ${message}`, { key: option, cause });
}

/** Milliseconds from `5000`, `5000ms` or `5s`. */
function parseDuration(option: string, value: string): number {
  const m = /^\s*(\d+)\s*(ms|s)?\s*$/.exec(value);
  if (!m) throw usage(option, `statement_timeout must be milliseconds (5000), or with a unit (5000ms, 5s), got ${JSON.stringify(value)}`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

function parseChannel(option: string, value: string): string | undefined {
  if (value === '') return undefined;
  if (Buffer.byteLength(value) > 63) throw usage(option, `channel must be at most 63 bytes (a PostgreSQL identifier), got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Reads a connection text (no `pg://`, no query). `option` names the argument in messages.
 * `conninfo` is the already-parsed keyword/value form when the caller had to parse it to find the
 * end of the connection part.
 */
export function parsePgConnection(text: string, option = 'pg://', conninfo?: Conninfo): PgConnection {
  return isPgUrl(text) ? fromUrl(text.trim(), option) : fromConninfo(text, option, conninfo ?? parseConninfo(text, option));
}

function fromUrl(text: string, option: string): PgConnection {
  let channel: string | undefined = DEFAULT_CHANNEL;
  let statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS;
  const q = text.indexOf('?');
  const base = q < 0 ? text : text.slice(0, q);
  const kept: string[] = [];
  const maskedParams: string[] = [];
  if (q >= 0) {
    for (const part of text.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const rawKey = eq < 0 ? part : part.slice(0, eq);
      const rawValue = eq < 0 ? '' : part.slice(eq + 1);
      let key: string;
      let value: string;
      try {
        key = decodeURIComponent(rawKey);
        value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
      } catch (err) {
        throw usage(option, `bad percent-encoding in URL parameter ${JSON.stringify(rawKey)}`, err);
      }
      if (key === 'channel') channel = parseChannel(option, value);
      else if (key === 'statement_timeout') statementTimeoutMs = parseDuration(option, value);
      else kept.push(part);
      maskedParams.push(SECRET_KEYS.has(key) ? `${rawKey}=***` : part);
    }
  }
  // user:password@ in the authority: mask the password, keep the rest as typed.
  const authorityEnd = base.slice(base.indexOf('//') + 2).search(/[/?#]/);
  const authority = authorityEnd < 0 ? base : base.slice(0, base.indexOf('//') + 2 + authorityEnd);
  const at = authority.lastIndexOf('@');
  const colon = authority.indexOf(':', authority.indexOf('//') + 2);
  const maskedBase = at >= 0 && colon >= 0 && colon < at ? `${base.slice(0, colon + 1)}***${base.slice(at)}` : base;
  const masked = maskedParams.length > 0 || q >= 0 ? `${maskedBase}?${maskedParams.join('&')}` : maskedBase;
  const connectionString = kept.length > 0 ? `${base}?${kept.join('&')}` : base;
  try {
    new URL(connectionString);
  } catch (err) {
    throw usage(option, `not a valid postgres:// URL: ${masked}`, err);
  }
  return {
    channel,
    statementTimeoutMs,
    masked,
    clientConfig: async () => ({ ...common(statementTimeoutMs), connectionString }),
  };
}

function fromConninfo(text: string, option: string, info: Conninfo): PgConnection {
  let channel: string | undefined = DEFAULT_CHANNEL;
  let statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS;
  const values = new Map<string, string>();
  let masked = '';
  let from = 0;
  for (const e of info.entries) {
    if (e.key === 'channel') channel = parseChannel(option, e.value);
    else if (e.key === 'statement_timeout') statementTimeoutMs = parseDuration(option, e.value);
    else if ((CONNINFO_KEYS as readonly string[]).includes(e.key)) values.set(e.key, e.value);
    else throw usage(option, `unsupported connection keyword ${JSON.stringify(e.key)} (supported: ${[...CONNINFO_KEYS, ...MONITOR_KEYS].join(', ')})`);
    if (SECRET_KEYS.has(e.key)) {
      masked += `${text.slice(from, e.start)}***`;
      from = e.end;
    }
  }
  masked += text.slice(from, info.end);
  masked = masked.trim();

  const config: ClientConfig = { ...common(statementTimeoutMs) };
  const host = values.get('hostaddr') ?? values.get('host');
  if (host !== undefined && host !== '') config.host = host;
  const port = values.get('port');
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw usage(option, `port must be 1 to 65535, got ${JSON.stringify(port)}`);
    config.port = Number(port);
  }
  const plain = [['dbname', 'database'], ['user', 'user'], ['password', 'password'], ['application_name', 'application_name'],
    ['fallback_application_name', 'fallback_application_name'], ['options', 'options'], ['client_encoding', 'client_encoding']] as const;
  for (const [key, field] of plain) {
    const v = values.get(key);
    if (v !== undefined) config[field] = v;
  }
  const connectTimeout = values.get('connect_timeout');
  if (connectTimeout !== undefined && connectTimeout !== '') {
    if (!/^\d+$/.test(connectTimeout)) throw usage(option, `connect_timeout must be whole seconds, got ${JSON.stringify(connectTimeout)}`);
    // libpq: 0 means wait forever; a monitor must not, so 0 keeps the default.
    if (Number(connectTimeout) > 0) config.connectionTimeoutMillis = Number(connectTimeout) * 1000;
  }
  const ssl = sslPlan(values, option);
  return { channel, statementTimeoutMs, masked, clientConfig: async () => ({ ...config, ssl: await ssl() }) };
}

/** libpq's sslmode, as far as the pg driver can follow it. */
function sslPlan(values: Map<string, string>, option: string): () => Promise<boolean | ConnectionOptions> {
  const mode = values.get('sslmode');
  const rootcert = values.get('sslrootcert');
  const cert = values.get('sslcert');
  const key = values.get('sslkey');
  const passphrase = values.get('sslpassword');
  if (mode === undefined || mode === 'disable') return async () => false;
  if (mode === 'allow' || mode === 'prefer') {
    throw usage(option, `sslmode=${mode} needs a fallback between TLS and plain connections that the pg driver does not make: use sslmode=disable or sslmode=require (or verify-ca, verify-full)`);
  }
  if (mode !== 'require' && mode !== 'verify-ca' && mode !== 'verify-full') {
    throw usage(option, `sslmode must be disable, require, verify-ca or verify-full, got ${JSON.stringify(mode)}`);
  }
  if (mode === 'verify-ca' && rootcert === undefined) throw usage(option, 'sslmode=verify-ca needs sslrootcert (the CA that signed the server certificate)');
  return async () => {
    const tls: ConnectionOptions = {};
    if (rootcert !== undefined) tls.ca = await readFile(rootcert, 'utf8');
    if (cert !== undefined) tls.cert = await readFile(cert, 'utf8');
    if (key !== undefined) tls.key = await readFile(key, 'utf8');
    if (passphrase !== undefined) tls.passphrase = passphrase;
    // libpq: `require` with a root certificate verifies the CA, like verify-ca.
    if (mode === 'require' && rootcert === undefined) tls.rejectUnauthorized = false;
    else if (mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
    return tls;
  };
}

function common(statementTimeoutMs: number): ClientConfig {
  const config: ClientConfig = {
    application_name: 'emperor',
    keepAlive: true,
    connectionTimeoutMillis: DEFAULT_CONNECT_TIMEOUT_MS,
  };
  if (statementTimeoutMs > 0) {
    config.statement_timeout = statementTimeoutMs;
    // A server that stops answering altogether (a dead link) is caught on this side.
    config.query_timeout = statementTimeoutMs + 5_000;
  }
  return config;
}
