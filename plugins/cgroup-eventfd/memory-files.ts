/**
 * The memory controller's files in a vassal's cgroup, whichever cgroup version carries it:
 * v1 (memory.usage_in_bytes, memory.oom_control, notifications through cgroup.event_control) or
 * v2 (memory.current, memory.events, whose changes the kernel reports to inotify).
 */
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';

export type MemoryFiles =
  | { version: 1; dir: string; usage: string; oomControl: string; control: string }
  | { version: 2; dir: string; current: string; events: string };

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The memory files of the cgroup at `dir`, or why there are none. */
export async function memoryFiles(dir: string): Promise<MemoryFiles | { missing: string }> {
  if (await exists(`${dir}/memory.usage_in_bytes`)) {
    return { version: 1, dir, usage: `${dir}/memory.usage_in_bytes`, oomControl: `${dir}/memory.oom_control`, control: `${dir}/cgroup.event_control` };
  }
  if (await exists(`${dir}/memory.current`)) {
    return { version: 2, dir, current: `${dir}/memory.current`, events: `${dir}/memory.events` };
  }
  if (!(await exists(dir))) return { missing: `the cgroup ${dir} does not exist` };
  return { missing: `the cgroup ${dir} has no memory controller (neither memory.usage_in_bytes nor memory.current)` };
}

function bytesOf(text: string | undefined): number | undefined {
  // "max" (v2's no limit) and a torn read are no number.
  return text !== undefined && /^\d+\s*$/.test(text) ? Number(text.trim()) : undefined;
}

/** A number file (memory.usage_in_bytes, memory.current); undefined once the cgroup is gone. */
export async function readBytes(file: string): Promise<number | undefined> {
  return bytesOf(await readFile(file, 'utf8').catch(() => undefined));
}

/**
 * readBytes without the thread pool: the kernel makes a cgroup file's text on read, from memory,
 * so the read never waits on storage, and the value is the one of this very moment rather than of
 * several event-loop turns later (open, stat, read and close each a turn in the thread pool).
 */
export function readBytesNow(file: string): number | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = undefined;
  }
  return bytesOf(text);
}

/** `key value` lines (memory.events, memory.oom_control) as numbers. */
export function parseKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export async function readKeyed(file: string): Promise<Record<string, number> | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseKeyed(text);
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}
