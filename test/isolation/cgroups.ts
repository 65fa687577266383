/** Real cgroups for tests: a cgroup root of their own per test, removed afterwards. */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { allHierarchies, detectCgroupLayout, type CgroupLayout } from '../../src/isolation/cgroup-layout.js';
import type { CgroupSettings } from '../../src/isolation/cgroup-path.js';

/** Why cgroup tests cannot run here, or false. */
export const noCgroups: string | false = process.getuid?.() !== 0
  ? 'needs root to create cgroups'
  : !existsSync('/sys/fs/cgroup/memory/memory.usage_in_bytes')
    ? 'no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory'
    : false;

export const noV2: string | false = noCgroups || (existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? false : 'no cgroup v2 hierarchy at /sys/fs/cgroup/unified');

export function uniqueRoot(): string {
  return `emperor-test-iso-${process.pid}-${randomBytes(3).toString('hex')}`;
}

async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeTree(`${dir}/${e.name}`);
  await rmdir(dir).catch(() => undefined);
}

/** Settings with a fresh root, and a cleanup that removes whatever is left below it. */
export async function testSettings(opts: { layout?: CgroupLayout; confine?: boolean } = {}): Promise<{ settings: CgroupSettings; cleanup: () => Promise<void> }> {
  const layout = opts.layout ?? (await detectCgroupLayout());
  const root = uniqueRoot();
  return {
    settings: { layout, root, confine: opts.confine ?? false },
    cleanup: async () => {
      for (const h of allHierarchies(layout)) await removeTree(`${h.mount}/${root}`);
    },
  };
}

/** The cgroup path of `pid` in the hierarchy with this id prefix in /proc/PID/cgroup (`4:memory:`, `0::`). */
export async function cgroupOf(pid: number, controller: string): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [, names, path] = line.split(':');
    if (names === undefined || path === undefined) continue;
    if ((controller === '' && line.startsWith('0::')) || (controller !== '' && names.split(',').includes(controller))) return path;
  }
  return undefined;
}
