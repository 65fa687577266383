/**
 * What /proc says about one process: CPU time and resident memory from `stat`, its children from
 * every thread's `children` file, and the proportional and unique set sizes from `smaps_rollup`.
 * A process that is gone between two reads is simply absent (undefined), never an error.
 */
import { open, readdir, readFile } from 'node:fs/promises';

/** USER_HZ: the unit of CPU times in /proc, fixed at 100 by the kernel ABI on every Linux architecture Node supports. */
export const CLOCK_TICKS = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z, … */
  state: string;
  /** User plus system CPU time, in seconds. */
  cpuSeconds: number;
  rssBytes: number;
}

export interface SmapsRollup {
  rss: number;
  pss: number;
  /** Unique set size: private clean + private dirty (+ private hugetlb), as psutil counts it. */
  uss: number;
}

let pageSize: Promise<number> | undefined;

/** The kernel page size, from the first mapping of our own smaps (no sysconf in Node). */
export function kernelPageSize(): Promise<number> {
  pageSize ??= (async () => {
    try {
      const fh = await open('/proc/self/smaps', 'r');
      try {
        const buf = Buffer.alloc(4096);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        const m = /KernelPageSize:\s+(\d+) kB/.exec(buf.toString('latin1', 0, bytesRead));
        if (m) return Number(m[1]) * 1024;
      } finally {
        await fh.close();
      }
    } catch {
      // fall through
    }
    return 4096;
  })();
  return pageSize;
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = f[0] ?? '?';
  if (state === 'Z' || state === 'X') return undefined;
  const page = await kernelPageSize();
  return {
    pid,
    ppid: Number(f[1]),
    state,
    cpuSeconds: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS,
    rssBytes: Number(f[21]) * page,
  };
}

/** Direct children of a process, forked by any of its threads. */
export async function childrenOf(pid: number): Promise<number[]> {
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const lists = await Promise.all(tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, 'latin1').catch(() => '')));
  const out: number[] = [];
  for (const l of lists) for (const p of l.split(' ')) if (p.trim() !== '') out.push(Number(p));
  return out;
}

/** The roots and every live process below them (each once, roots first). */
export async function processTree(roots: readonly number[]): Promise<number[]> {
  const seen = new Set<number>();
  let level = roots.filter((p) => p > 0);
  while (level.length > 0) {
    const fresh = level.filter((p) => !seen.has(p));
    for (const p of fresh) seen.add(p);
    level = (await Promise.all(fresh.map(childrenOf))).flat();
  }
  return [...seen];
}

export async function readSmapsRollup(pid: number): Promise<SmapsRollup | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const kb = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return {
    rss: kb('Rss'),
    pss: kb('Pss'),
    uss: kb('Private_Clean') + kb('Private_Dirty') + kb('Private_Hugetlb'),
  };
}
