/**
 * Connections on an on-demand socket, as the kernel lists them in /proc/net/{tcp,tcp6,unix}:
 * what tells the emperor that a vassal which never exits on its own has been idle. A connection
 * counts from the moment it waits in the backlog until the vassal closes its end, so a request
 * in progress is never taken for idleness. One read of the tables is shared by every vassal that
 * looks within the same moment.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ListenAddress } from './listen-address.js';

export interface TcpRow {
  /** 4 bytes (IPv4) or 16 (IPv6), as a lowercase hex string in network order. */
  ip: string;
  port: number;
  state: number;
}

export interface UnixRow {
  path: string;
  state: number;
}

export interface ConnectionTable {
  tcp: TcpRow[];
  unix: UnixRow[];
}

/** ESTABLISHED (also while waiting in the backlog), SYN_RECV, CLOSE_WAIT (the vassal still holds it). */
const TCP_BUSY = new Set([0x01, 0x03, 0x08]);
/** SS_CONNECTING (an embryo waiting in the backlog), SS_CONNECTED. */
const UNIX_BUSY = new Set([2, 3]);

/** /proc/net/tcp and tcp6 hold each address as 32-bit words in host (little-endian) order. */
function procIp(hex: string): string {
  let out = '';
  for (let i = 0; i < hex.length; i += 8) out += hex.slice(i, i + 8).match(/../g)!.reverse().join('');
  return out.toLowerCase();
}

export function parseProcNetTcp(text: string): TcpRow[] {
  const rows: TcpRow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const st = f[3];
    if (local === undefined || st === undefined || !/^[0-9A-Fa-f]+:[0-9A-Fa-f]{4}$/.test(local)) continue;
    const [ip, port] = local.split(':') as [string, string];
    if (ip.length !== 8 && ip.length !== 32) continue;
    rows.push({ ip: procIp(ip), port: parseInt(port, 16), state: parseInt(st, 16) });
  }
  return rows;
}

/** Rows: `Num RefCount Protocol Flags Type St Inode [Path]`; only rows with a path matter here. */
export function parseProcNetUnix(text: string): UnixRow[] {
  const rows: UnixRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*[0-9A-Fa-f]+:\s+[0-9A-Fa-f]+\s+[0-9A-Fa-f]+\s+[0-9A-Fa-f]+\s+[0-9A-Fa-f]+\s+([0-9A-Fa-f]+)\s+\d+\s(.+)$/.exec(line);
    if (m) rows.push({ state: parseInt(m[1]!, 16), path: m[2]! });
  }
  return rows;
}

/** An address as hex bytes, IPv4 also in its IPv4-mapped IPv6 form (dual-stack rows). */
function ipForms(host: string): string[] {
  if (isIP(host) === 4) {
    const v4 = host.split('.').map((n) => Number(n).toString(16).padStart(2, '0')).join('');
    return [v4, `00000000000000000000ffff${v4}`];
  }
  return [expandV6(host)];
}

function expandV6(host: string): string {
  let h = host;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
  if (quad) {
    const b = quad.slice(1, 5).map((n) => Number(n));
    h = h.slice(0, quad.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = h.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

const ANY = new Set(['00000000', '0'.repeat(32)]);

/** Connections the kernel holds on this socket: waiting in its backlog or open in a worker. */
export function countConnections(table: ConnectionTable, address: ListenAddress): number {
  if (address.kind === 'unix') {
    // Accepted and waiting sockets carry the listener's name; an abstract one shows as @name.
    return table.unix.filter((r) => r.path === address.path && UNIX_BUSY.has(r.state)).length;
  }
  const forms = ipForms(address.host);
  const any = forms.some((f) => ANY.has(f));
  return table.tcp.filter((r) => r.port === address.port && TCP_BUSY.has(r.state) && (any || forms.includes(r.ip))).length;
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    // No IPv6 on this host: no tcp6 table.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

export async function readConnectionTable(): Promise<ConnectionTable> {
  const [tcp, tcp6, unix] = await Promise.all([readOptional('/proc/net/tcp'), readOptional('/proc/net/tcp6'), readOptional('/proc/net/unix')]);
  return { tcp: [...parseProcNetTcp(tcp), ...parseProcNetTcp(tcp6)], unix: parseProcNetUnix(unix) };
}

/** A reader that gives callers within `reuseMs` of each other the same read. */
export function sharedConnectionTable(reuseMs = 200, read: () => Promise<ConnectionTable> = readConnectionTable): () => Promise<ConnectionTable> {
  let last: { at: number; table: Promise<ConnectionTable> } | undefined;
  return () => {
    const now = Date.now();
    if (last && now - last.at < reuseMs) return last.table;
    const table = read();
    last = { at: now, table };
    // A failed read is not reused.
    table.catch(() => {
      if (last?.table === table) last = undefined;
    });
    return table;
  };
}
