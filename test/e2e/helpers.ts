/**
 * What the end-to-end tests share: where the cgroup hierarchies of this host are, unique names,
 * and the checks a user would make from a shell (is the directory there, who is in it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rmdir } from 'node:fs/promises';

export const MEMORY_MOUNT = '/sys/fs/cgroup/memory';
export const UNIFIED_MOUNT = '/sys/fs/cgroup/unified';

/** Why these tests cannot run here, or false: they need root and a cgroup v1 memory hierarchy. */
export const noRootCgroups: string | false = process.getuid?.() !== 0
  ? 'needs root (cgroups, users, tyrant mode)'
  : !existsSync(`${MEMORY_MOUNT}/memory.usage_in_bytes`)
    ? `no cgroup v1 memory hierarchy at ${MEMORY_MOUNT}`
    : false;

/** A name no other test run uses. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The directories a cgroup at `relative` (below each mount) has on this host. */
export function cgroupDirs(relative: string): string[] {
  const dirs = [`${MEMORY_MOUNT}/${relative}`];
  if (existsSync(`${UNIFIED_MOUNT}/cgroup.procs`)) dirs.push(`${UNIFIED_MOUNT}/${relative}`);
  return dirs;
}

/** The pids in a cgroup directory's cgroup.procs (empty when it is gone). */
export async function procsOf(dir: string): Promise<number[]> {
  const text = await readFile(`${dir}/cgroup.procs`, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map(Number);
}

/**
 * Removes what a failed test left: the cgroup directories below `relative` in every hierarchy,
 * deepest first (a cgroup with members stays; the emperor's own stop is what empties them).
 */
export async function removeCgroupTree(relative: string): Promise<void> {
  for (const mount of (await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((m) => `/sys/fs/cgroup/${m}`)) {
    await removeTree(`${mount}/${relative}`);
  }
}

async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeTree(`${dir}/${e.name}`);
  // A member killed a moment ago keeps the cgroup busy until the kernel has torn it down.
  const deadline = Date.now() + 2000;
  for (;;) {
    const err = await rmdir(dir).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    if (err === undefined || err.code !== 'EBUSY' || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The leaf processes below `pid` (the program a worker runs, under its exec helper and pid-namespace init). */
export async function leaves(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] === 'Z' || f[0] === 'X') continue;
    const ppid = Number(f[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    const c = children.get(p) ?? [];
    if (c.length === 0 && p !== pid) out.push(p);
    for (const x of c) walk(x);
  };
  walk(pid);
  return out;
}

/** SIGKILL to every live process whose real uid is `uid` (what a failed test may have left of a test user). */
export async function killProcessesOf(uid: number): Promise<void> {
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const status = await readFile(`/proc/${e}/status`, 'utf8').catch(() => '');
    if (/^Uid:\s+(\d+)/m.exec(status)?.[1] !== String(uid)) continue;
    try {
      process.kill(Number(e), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

/** Removes test users, each even if another fails; leftovers of theirs are killed first (userdel refuses a user in use). */
export async function removeUsers(users: ReadonlyArray<{ uid: number; remove(): Promise<void> } | undefined>): Promise<void> {
  const errors: unknown[] = [];
  for (const u of users) {
    if (u === undefined) continue;
    await killProcessesOf(u.uid);
    await u.remove().catch((err: unknown) => errors.push(err));
  }
  if (errors.length > 0) throw errors[0];
}
