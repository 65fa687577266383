/**
 * The kernel's listen queues: for each listening socket, how many connections wait to be
 * accepted and how many may wait. /proc/net/tcp has the first (rx_queue of a LISTEN row) but not
 * the second (its tx_queue is 0 for listeners), so we ask the kernel over sock_diag netlink
 * through `ss` (iproute2), which reports both (Recv-Q and Send-Q of a listener). One `ss` run is
 * shared by every vassal that polls within the same moment.
 */
import { execFile } from 'node:child_process';
import { readdir, readlink } from 'node:fs/promises';

export interface ListenQueue {
  /** The socket's inode, as /proc/PID/fd shows it (`socket:[inode]`). */
  inode: number;
  /** `127.0.0.1:3031`, `[::]:80`, or a unix socket path. */
  address: string;
  /** Connections waiting to be accepted. */
  queue: number;
  /** The listen backlog (after the kernel's somaxconn cap). */
  max: number;
}

const TCP_ROW = /^tcp\s+LISTEN\s+(\d+)\s+(\d+)\s+(\S+)\s+\S+.*?\bino:(\d+)/;
// Unix rows: `u_str LISTEN q max PATH INODE * 0 ...`; the path may hold spaces, the inode is the
// last number before the peer column.
const UNIX_ROW = /^u_str\s+LISTEN\s+(\d+)\s+(\d+)\s+(.*?)\s+(\d+)\s+\*\s+\d+(?:\s|$)/;

/** Parses `ss -H -l -n -e -t -x` output. Lines it does not understand are skipped. */
export function parseSsListeners(text: string): ListenQueue[] {
  const out: ListenQueue[] = [];
  for (const line of text.split('\n')) {
    const tcp = TCP_ROW.exec(line);
    if (tcp) {
      out.push({ queue: Number(tcp[1]), max: Number(tcp[2]), address: tcp[3] ?? '', inode: Number(tcp[4]) });
      continue;
    }
    const unix = UNIX_ROW.exec(line);
    if (unix) out.push({ queue: Number(unix[1]), max: Number(unix[2]), address: unix[3] ?? '', inode: Number(unix[4]) });
  }
  return out;
}

/** Runs `ss` once. Rejects with the spawn error (ENOENT when iproute2 is missing). */
export function readListenQueues(signal?: AbortSignal): Promise<ListenQueue[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'ss',
      ['-H', '-l', '-n', '-e', '-t', '-x'],
      { timeout: 5000, maxBuffer: 64 * 1024 * 1024, ...(signal ? { signal } : {}) },
      (err, stdout) => {
        if (err) reject(err);
        else resolve(parseSsListeners(stdout));
      },
    );
  });
}

/** A reader that hands concurrent callers (many vassals polling) one shared `ss` run. */
export function coalescing(read: () => Promise<ListenQueue[]>, reuseMs: number): () => Promise<ListenQueue[]> {
  let last: { at: number; result: Promise<ListenQueue[]> } | undefined;
  return () => {
    const now = Date.now();
    if (last !== undefined && now - last.at < reuseMs) return last.result;
    const result = read();
    last = { at: now, result };
    // A failure is not cached beyond its own callers.
    result.catch(() => {
      if (last?.result === result) last = undefined;
    });
    return result;
  };
}

let shared: (() => Promise<ListenQueue[]>) | undefined;

/** The process-wide shared reader, created on first use. */
export function sharedListenQueues(): () => Promise<ListenQueue[]> {
  shared ??= coalescing(() => readListenQueues(), 500);
  return shared;
}

/** The socket inodes a process holds open, each with the lowest fd that refers to it. */
export async function socketFds(pid: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return out; // Gone, or not ours to see.
  }
  await Promise.all(
    fds.map(async (fd) => {
      try {
        const target = await readlink(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (!m) return;
        const inode = Number(m[1]);
        const n = Number(fd);
        const prev = out.get(inode);
        if (prev === undefined || n < prev) out.set(inode, n);
      } catch {
        // Closed meanwhile.
      }
    }),
  );
  return out;
}
