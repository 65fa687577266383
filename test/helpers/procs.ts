/** Process-tree facts from /proc, for orphan checks. */
import { readdir, readFile } from 'node:fs/promises';

export interface ProcInfo {
  pid: number;
  ppid: number;
  sid: number;
}

async function info(pid: number): Promise<ProcInfo | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') return undefined;
  return { pid, ppid: Number(f[1]), sid: Number(f[3]) };
}

/** Every live process below `roots` (not including them). */
export async function descendants(roots: readonly number[]): Promise<ProcInfo[]> {
  const all: ProcInfo[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const i = await info(Number(e));
    if (i) all.push(i);
  }
  const below = new Set<number>(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!below.has(p.pid) && below.has(p.ppid)) {
        below.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => below.has(p.pid) && !roots.includes(p.pid));
}

export async function alive(pid: number): Promise<boolean> {
  return (await info(pid)) !== undefined;
}
