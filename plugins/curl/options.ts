/**
 * The argument of `curl:URL;opt=val;...`, with uWSGI alarm_curl's options: auth_pass, auth_user,
 * conn_timeout, mail_from, mail_to, method, ssl, subject, timeout, url, ssl_insecure. Unlike
 * uWSGI (which ignores what it does not know), an unknown or misplaced option is a config error.
 */
import { hostname } from 'node:os';
import { EmperorError, ErrorCodes } from '../../src/errors.js';

export interface HttpTarget {
  kind: 'http';
  /** Without credentials. */
  url: URL;
  /** PUT unless `method` says otherwise (uWSGI uploads the message, which curl sends as PUT). */
  method: string;
}

export interface SmtpTarget {
  kind: 'smtp';
  host: string;
  port: number;
  /** smtps: TLS from the first byte. */
  secure: boolean;
  /** `ssl`: refuse to send unless the session is upgraded with STARTTLS. */
  requireTls: boolean;
  /** Sent in EHLO: the URL's path, as curl does, else this host's name. */
  ehloName: string;
  from: string;
  to: string[];
  subject: string | undefined;
}

export interface CurlOptions {
  target: HttpTarget | SmtpTarget;
  user: string | undefined;
  pass: string | undefined;
  /** ms to establish the connection (conn_timeout). */
  connTimeoutMs: number | undefined;
  /** ms for the whole exchange (timeout); alarm-timeout bounds it anyway. */
  timeoutMs: number | undefined;
  /** Skip certificate and host name checks (ssl_insecure). */
  insecure: boolean;
  /** The URL as shown in messages: no password, ever. */
  display: string;
}

const KEYS = ['url', 'auth_user', 'auth_pass', 'conn_timeout', 'timeout', 'method', 'ssl', 'ssl_insecure', 'mail_from', 'mail_to', 'subject'] as const;
type Key = (typeof KEYS)[number];
const MAIL_ONLY: readonly Key[] = ['mail_from', 'mail_to', 'subject'];

function bad(message: string): EmperorError {
  return new EmperorError(ErrorCodes.CONFIG_INVALID, `curl: ${message}`, { key: 'alarm' });
}

function bool(key: string, v: string): boolean {
  const t = v.trim().toLowerCase();
  if (['', '1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw bad(`${key}: expected true or false, got ${JSON.stringify(v)}`);
}

function seconds(key: string, v: string): number {
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw bad(`${key}: expected a number of seconds > 0, got ${JSON.stringify(v)}`);
  return Math.round(n * 1000);
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw bad(`expected an http://, https://, smtp:// or smtps:// URL, got ${JSON.stringify(text)}`);
  }
  if (!['http:', 'https:', 'smtp:', 'smtps:'].includes(url.protocol)) {
    throw bad(`expected an http://, https://, smtp:// or smtps:// URL, got the scheme "${url.protocol.slice(0, -1)}"`);
  }
  if (url.hostname === '') throw bad(`the URL ${JSON.stringify(text)} has no host`);
  return url;
}

function displayUrl(url: URL): string {
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  return u.href;
}

export function parseCurlArgs(args: string): CurlOptions {
  // uWSGI splits with strtok: empty fields (`;;`) are skipped.
  const fields = args.split(';').filter((f) => f.length > 0);
  const opts = new Map<Key, string>();
  let urlText: string | undefined;
  for (const [i, field] of fields.entries()) {
    const eq = field.indexOf('=');
    // The first field is the URL, '=' in a query string and all (as in uWSGI).
    if (i === 0 && !field.startsWith('url=')) {
      urlText = field;
      continue;
    }
    if (eq < 0) throw bad(`expected key=value after the URL, got ${JSON.stringify(field)}`);
    const key = field.slice(0, eq).trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      throw bad(`unknown option "${key}"; expected one of ${KEYS.join(', ')}`);
    }
    const value = field.slice(eq + 1);
    if (key === 'url') urlText = value;
    else opts.set(key as Key, value);
  }
  if (urlText === undefined || urlText.trim() === '') throw bad('expected a URL, as in curl:https://host/path;opt=value');
  const url = parseUrl(urlText);

  const user = opts.get('auth_user') ?? (url.username !== '' ? decodeURIComponent(url.username) : undefined);
  const pass = opts.get('auth_pass') ?? (url.password !== '' ? decodeURIComponent(url.password) : undefined);
  const ssl = opts.has('ssl') ? bool('ssl', opts.get('ssl') ?? '') : false;
  const insecure = opts.has('ssl_insecure') ? bool('ssl_insecure', opts.get('ssl_insecure') ?? '') : false;
  const common = {
    user,
    pass,
    connTimeoutMs: opts.has('conn_timeout') ? seconds('conn_timeout', opts.get('conn_timeout') ?? '') : undefined,
    timeoutMs: opts.has('timeout') ? seconds('timeout', opts.get('timeout') ?? '') : undefined,
    insecure,
    display: displayUrl(url),
  };

  if (url.protocol === 'http:' || url.protocol === 'https:') {
    for (const k of MAIL_ONLY) if (opts.has(k)) throw bad(`${k} applies to smtp:// and smtps:// URLs, not ${url.protocol}//`);
    if (ssl && url.protocol === 'http:') throw bad('ssl on an http:// URL would still send in clear; use an https:// URL');
    const method = (opts.get('method') ?? 'PUT').trim().toUpperCase();
    if (!/^[A-Z]+$/.test(method)) throw bad(`method: expected an HTTP method such as POST or PUT, got ${JSON.stringify(opts.get('method'))}`);
    const clean = new URL(url.href);
    clean.username = '';
    clean.password = '';
    return { ...common, target: { kind: 'http', url: clean, method } };
  }

  if (opts.has('method')) throw bad(`method applies to http:// and https:// URLs, not ${url.protocol}//`);
  const to = (opts.get('mail_to') ?? '').split(',').map((a) => a.trim()).filter((a) => a.length > 0);
  if (to.length === 0) throw bad(`mail_to: an ${url.protocol}// URL needs at least one recipient, as in mail_to=ops@example.com`);
  const secure = url.protocol === 'smtps:';
  const path = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  return {
    ...common,
    target: {
      kind: 'smtp',
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port !== '' ? Number(url.port) : secure ? 465 : 25,
      secure,
      requireTls: ssl && !secure,
      ehloName: path !== '' ? path : hostname(),
      from: opts.get('mail_from')?.trim() || `emperor@${hostname()}`,
      to,
      subject: opts.get('subject'),
    },
  };
}
