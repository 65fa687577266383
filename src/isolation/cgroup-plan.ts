/**
 * Which hierarchies a vassal's cgroup lives in, and which file of which directory each
 * `cgroup-opt` writes.
 *
 * The memory controller's hierarchy always (limits, usage, thresholds and OOM are what vassal
 * configs name, and it is where %(cgroup) points); the hierarchy of every controller a cgroup-opt
 * names (cpu.shares -> cpu, pids.max -> pids); and the v2 hierarchy whenever one is mounted, even
 * without controllers (a hybrid host): its cgroup.kill empties the cgroup in one atomic step. On a
 * v1-only host the vassal is emptied by killing what its hierarchies' cgroup.procs list, round
 * after round until nothing is left (a killed process cannot fork any more).
 */
import type { CgroupOpt } from '../config/types.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import { describeLayout, hierarchyOf, primaryHierarchy, type Hierarchy } from './cgroup-layout.js';
import { resolveCgroupPath, type CgroupLocation, type CgroupSettings } from './cgroup-path.js';

export interface CgroupDir {
  version: 1 | 2;
  mount: string;
  /** The vassal's directory in this hierarchy. */
  path: string;
  /** Controllers the vassal uses here (v2: enabled in every ancestor's cgroup.subtree_control). */
  controllers: readonly string[];
}

export interface CgroupOptWrite {
  /** As written: `memory.limit_in_bytes`. */
  file: string;
  value: string;
  /** The directory of the hierarchy that carries the file's controller. */
  dir: string;
}

export interface CgroupPlan extends CgroupLocation {
  /** The primary directory first (the one `path` is). */
  dirs: readonly CgroupDir[];
  opts: readonly CgroupOptWrite[];
}

/** Files the emperor owns: writing them from a config would move processes or kill them. */
function controllerOf(file: string): string {
  const dot = file.indexOf('.');
  const controller = dot <= 0 ? '' : file.slice(0, dot);
  if (controller === '' || controller === 'cgroup') {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `cgroup-opt: expected a controller's file (CONTROLLER.NAME, e.g. memory.limit_in_bytes or pids.max), got '${file}': cgroup.*, tasks and the release settings are the emperor's`, { key: 'cgroup-opt' });
  }
  return controller;
}

export function planCgroup(value: string, opts: readonly CgroupOpt[], s: CgroupSettings): CgroupPlan {
  const loc = resolveCgroupPath(value, s);
  const primary = primaryHierarchy(s.layout)!;
  const wanted = new Map<Hierarchy, Set<string>>([[primary, new Set(primary.controllers.includes('memory') ? ['memory'] : [])]]);
  const writes: Array<{ file: string; value: string; h: Hierarchy }> = [];
  for (const o of opts) {
    const controller = controllerOf(o.file);
    const h = hierarchyOf(s.layout, controller);
    if (h === undefined) {
      throw new EmperorError(ErrorCodes.CONFIG_INVALID, `cgroup-opt: '${o.file}' needs the ${controller} controller, which is not available here (${describeLayout(s.layout)})`, { key: 'cgroup-opt' });
    }
    if (!wanted.has(h)) wanted.set(h, new Set());
    wanted.get(h)!.add(controller);
    writes.push({ file: o.file, value: o.value, h });
  }
  if (s.layout.v2 && !wanted.has(s.layout.v2)) wanted.set(s.layout.v2, new Set());
  const dirs: CgroupDir[] = [...wanted].map(([h, controllers]) => ({
    version: h.version,
    mount: h.mount,
    path: `${h.mount}/${loc.relative}`,
    controllers: h.version === 2 ? [...controllers] : h.controllers,
  }));
  return {
    ...loc,
    dirs,
    opts: writes.map((w) => ({ file: w.file, value: w.value, dir: `${w.h.mount}/${loc.relative}` })),
  };
}

/** The cgroup.procs files a worker joins before its program runs. */
export function cgroupProcsFiles(plan: CgroupPlan): string[] {
  return plan.dirs.map((d) => `${d.path}/cgroup.procs`);
}
