/** Process facts from /proc: CPU time, memory, process trees. Linux only, as the emperor. */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime (getconf CLK_TCK): 100 on every Linux in use. */
export const CLK_TCK = 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  /** User + system CPU time in seconds (tick resolution). */
  cpuS: number;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state(3) ppid(4) pgrp(5) ... utime(14) stime(15).
  return { pid, state: f[0]!, ppid: Number(f[1]), pgid: Number(f[2]), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK };
}

/** Run time of every thread of the process in nanoseconds (schedstat): finer than utime+stime. */
export function cpuNs(pid: number): number | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let sum = 0;
  for (const t of tasks) {
    try {
      sum += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that just ended
    }
  }
  return sum;
}

/** Resident set size in MB (VmRSS), and its peak (VmHWM). */
export function memory(pid: number): { rssMB: number; peakMB: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { rssMB: kb('VmRSS') / 1024, peakMB: kb('VmHWM') / 1024 };
}

/** True while the process exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** Every live process below `root` (not `root` itself). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = procStat(Number(e));
    if (!s || s.state === 'Z' || s.state === 'X') continue;
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Threads (tasks) on the host: each one takes a pid, bounded by kernel.pid_max. */
export function taskCount(): number {
  let n = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      n += readdirSync(`/proc/${e}/task`).length;
    } catch {
      // gone
    }
  }
  return n;
}

export function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Live processes whose command line contains `marker` (a unique temporary path): leftovers. */
export function processesMatching(marker: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker) && alive(Number(e))) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * The vassal processes below an emperor: its descendants without the esbuild service tsx starts
 * (the emperor under test runs from source).
 */
export function vassalProcesses(emperorPid: number): number[] {
  return descendants(emperorPid).filter((p) => {
    try {
      return !readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('esbuild');
    } catch {
      return false;
    }
  });
}
