/**
 * Where the stats and control servers listen: `HOST:PORT` (TCP; `:PORT` for every interface) or a
 * unix socket path, as uWSGI reads `emperor-stats` (a `:` and no `/` means TCP). A unix socket is
 * created with its final mode (no window in which others could connect), a stale socket file left
 * by a dead emperor is replaced, and a live one is never stolen.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { resolve } from 'node:path';
import { EmperorError, ErrorCodes } from '../errors.js';

export type ListenAddress = { kind: 'tcp'; host: string | undefined; port: number } | { kind: 'unix'; path: string };

export function parseListenAddress(value: string, option: string): ListenAddress {
  if (value.includes(':') && !value.includes('/')) {
    const colon = value.lastIndexOf(':');
    let host = value.slice(0, colon);
    const port = value.slice(colon + 1);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535 || /\s/.test(host)) {
      throw new EmperorError(ErrorCodes.USAGE, `${option} expects HOST:PORT, :PORT or a unix socket path, got '${value}'`, { key: option });
    }
    return { kind: 'tcp', host: host === '' ? undefined : host, port: Number(port) };
  }
  if (value === '') throw new EmperorError(ErrorCodes.USAGE, `${option} expects HOST:PORT, :PORT or a unix socket path, got ''`, { key: option });
  return { kind: 'unix', path: resolve(value) };
}

export function describeAddress(a: ListenAddress): string {
  if (a.kind === 'unix') return a.path;
  return `${a.host === undefined ? '*' : a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Listens on `addr`; a unix socket gets `mode`. Throws a USAGE error naming `option` on failure. */
export async function listenOn(server: Server, addr: ListenAddress, option: string, mode = 0o600): Promise<void> {
  if (addr.kind === 'unix') await clearStaleSocket(addr.path, option);
  await new Promise<void>((res, rej) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      rej(new EmperorError(ErrorCodes.USAGE, `${option} ${describeAddress(addr)}: cannot listen: ${err.code ?? err.message}`, { key: option, cause: err }));
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      res();
    };
    if (addr.kind === 'tcp') {
      server.listen({ host: addr.host, port: addr.port, exclusive: true }, done);
      return;
    }
    // The bind happens inside listen(), synchronously: the umask gives the socket its mode at birth.
    const old = process.umask(0o777 & ~mode);
    try {
      server.listen({ path: addr.path, exclusive: true }, done);
    } finally {
      process.umask(old);
    }
  });
  if (addr.kind === 'unix') await chmod(addr.path, mode);
}

/** Removes a socket file nobody answers on; refuses a live one or a file that is not a socket. */
export async function clearStaleSocket(path: string, option: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new EmperorError(ErrorCodes.USAGE, `${option} ${path}: exists and is not a socket; not replacing it`, { key: option });
  if (await answers(path)) throw new EmperorError(ErrorCodes.USAGE, `${option} ${path}: another process (an emperor already running?) listens there`, { key: option });
  await unlink(path).catch(() => undefined);
}

function answers(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * Stops a server and drops its open connections: what every long-lived server here does on
 * close(). Resolves once the listening socket is closed.
 */
export function closeServer(server: Server, sockets: Iterable<{ destroy(): void }>): Promise<void> {
  return new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
