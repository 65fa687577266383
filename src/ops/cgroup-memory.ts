/**
 * A vassal's cgroup memory usage, where it has a cgroup: memory.usage_in_bytes (v1) or
 * memory.current (v2). The cgroup is the directory of the cgroup.procs files its workers join;
 * failing that, the `cgroup` key as an absolute path or a name under the memory hierarchy.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { VassalPlan } from '../core/plan.js';

const CGROUP_MOUNT = '/sys/fs/cgroup';

/** Directories that may be the vassal's memory cgroup, most specific first. */
export function cgroupCandidates(plan: VassalPlan): string[] {
  const dirs = (plan.worker.cgroupProcs ?? []).map((f) => dirname(f));
  const name = plan.config.cgroup;
  if (name !== undefined) {
    if (isAbsolute(name)) dirs.push(name);
    else dirs.push(join(CGROUP_MOUNT, 'memory', name), join(CGROUP_MOUNT, name));
  }
  return [...new Set(dirs)];
}

/** Bytes charged to the vassal's memory cgroup, or undefined when it has none. */
export async function cgroupMemory(plan: VassalPlan): Promise<number | undefined> {
  for (const dir of cgroupCandidates(plan)) {
    for (const file of ['memory.usage_in_bytes', 'memory.current']) {
      const text = await readFile(join(dir, file), 'latin1').catch(() => undefined);
      if (text !== undefined && /^\d+\s*$/.test(text)) return Number(text.trim());
    }
  }
  return undefined;
}
