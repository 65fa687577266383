/**
 * The address of an on-demand socket, as the `on-demand` key and the sources' socket field give
 * it (uWSGI's rule, with our unix test): a value with a `/` or starting with `@` is a unix socket
 * (`@name`: abstract), anything else `HOST:PORT`, `[v6]:PORT` or `:PORT` (every interface).
 * Resolved once, when the vassal's plan is applied: host names to a numeric address, relative
 * paths against the vassal's directory.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { Expected, readHostPort } from '../config/values.js';

export type ListenAddress =
  | { kind: 'tcp'; /** Numeric. */ host: string; port: number; /** As written. */ text: string }
  | { kind: 'unix'; /** Absolute, or `@name`. */ path: string; text: string };

/** Longest unix socket path the kernel takes (sun_path less its terminating NUL). */
const MAX_UNIX_PATH = 107;

export function isUnixAddress(value: string): boolean {
  return value.includes('/') || (value.startsWith('@') && value.length > 1);
}

/** Throws Expected for a value that is neither form, or a host name that does not resolve. */
export async function resolveListenAddress(value: string, cwd: string): Promise<ListenAddress> {
  if (isUnixAddress(value)) {
    const path = value.startsWith('@') || isAbsolute(value) ? value : resolve(cwd, value);
    if (path.includes('\0')) throw new Expected('HOST:PORT or a unix socket path', 'a path cannot contain NUL');
    if (Buffer.byteLength(path) > MAX_UNIX_PATH) {
      throw new Expected('HOST:PORT or a unix socket path', `the path${path === value ? '' : ` (${path})`} is ${Buffer.byteLength(path)} bytes; unix sockets take at most ${MAX_UNIX_PATH}`);
    }
    return { kind: 'unix', path, text: value };
  }
  let hp: { host: string; port: number };
  try {
    hp = readHostPort(value, true);
  } catch {
    throw new Expected('HOST:PORT, :PORT or a unix socket path (with a /)');
  }
  let host = hp.host === '' ? '0.0.0.0' : hp.host;
  if (isIP(host) === 0) {
    try {
      host = (await lookup(host)).address;
    } catch (err) {
      throw new Expected('HOST:PORT with a host that resolves', `cannot resolve '${host}' (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  return { kind: 'tcp', host, port: hp.port, text: value };
}

/** Same socket: a reload that keeps it keeps the bound socket (and its waiting clients). */
export function sameAddress(a: ListenAddress, b: ListenAddress): boolean {
  return a.kind === 'tcp' ? b.kind === 'tcp' && a.host === b.host && a.port === b.port : b.kind === 'unix' && a.path === b.path;
}

/** For messages and stats: `127.0.0.1:8080`, `[::1]:8080`, or the path. */
export function describeAddress(a: ListenAddress): string {
  if (a.kind === 'unix') return a.path;
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
