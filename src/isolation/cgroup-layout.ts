/**
 * Where the cgroup hierarchies are mounted and which controllers each one carries, read once at
 * start from /proc/self/mountinfo and /proc/cgroups (v1) and cgroup.controllers (v2). A controller
 * lives in exactly one place: a v1 hierarchy, or the v2 one (hybrid hosts have both kinds).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Hierarchy {
  version: 1 | 2;
  /** Where it is mounted, absolute. */
  mount: string;
  /** The controllers it carries (v1: from the mount options; v2: the root's cgroup.controllers). */
  controllers: readonly string[];
}

export interface CgroupLayout {
  /** v1 hierarchies with at least one controller, in mount order (named ones like name=systemd are left out). */
  v1: readonly Hierarchy[];
  /** The v2 (unified) hierarchy, when mounted, with or without controllers. */
  v2?: Hierarchy;
}

/** mountinfo escapes blanks, tabs, newlines and backslashes in paths as octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The cgroup mounts in a mountinfo text. `enabled` are the v1 controller names /proc/cgroups lists
 * as enabled: a v1 mount's controllers are the words of its super options found there.
 */
export function parseMountinfo(text: string, enabled: ReadonlySet<string>): { v1: Hierarchy[]; v2Mount?: string } {
  const v1: Hierarchy[] = [];
  const seen = new Set<string>();
  let v2Mount: string | undefined;
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash === -1) continue;
    const before = line.slice(0, dash).split(' ');
    const after = line.slice(dash + 3).split(' ');
    const mount = before[4];
    const fstype = after[0];
    if (mount === undefined || fstype === undefined) continue;
    if (fstype === 'cgroup2') {
      v2Mount ??= unescape(mount);
      continue;
    }
    if (fstype !== 'cgroup') continue;
    const controllers = (after[2] ?? '').split(',').filter((o) => enabled.has(o));
    const key = [...controllers].sort().join(',');
    // A hierarchy bind-mounted twice shows up twice; the first mount is the one to use.
    if (controllers.length === 0 || seen.has(key)) continue;
    seen.add(key);
    v1.push({ version: 1, mount: unescape(mount), controllers });
  }
  return v2Mount === undefined ? { v1 } : { v1, v2Mount };
}

/** Controller names /proc/cgroups lists as enabled. */
export function parseProcCgroups(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    if (f.length >= 4 && f[3] === '1' && f[0]) names.add(f[0]);
  }
  return names;
}

/** Reads this host's layout. A host without cgroups gets an empty one (vassals naming a cgroup are then refused). */
export async function detectCgroupLayout(): Promise<CgroupLayout> {
  const [mountinfo, cgroups] = await Promise.all([
    readFile('/proc/self/mountinfo', 'utf8').catch(() => ''),
    readFile('/proc/cgroups', 'utf8').catch(() => ''),
  ]);
  const { v1, v2Mount } = parseMountinfo(mountinfo, parseProcCgroups(cgroups));
  if (v2Mount === undefined) return { v1 };
  const controllers = (await readFile(join(v2Mount, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/).filter(Boolean);
  return { v1, v2: { version: 2, mount: v2Mount, controllers } };
}

/** The hierarchy that carries `controller`, if any. */
export function hierarchyOf(layout: CgroupLayout, controller: string): Hierarchy | undefined {
  return layout.v1.find((h) => h.controllers.includes(controller)) ?? (layout.v2?.controllers.includes(controller) ? layout.v2 : undefined);
}

/** Every mounted hierarchy: the v1 ones, then v2. */
export function allHierarchies(layout: CgroupLayout): Hierarchy[] {
  return layout.v2 ? [...layout.v1, layout.v2] : [...layout.v1];
}

/**
 * The hierarchy `%(cgroup)` points into: the memory controller's (limits, thresholds, OOM are
 * what configs name there), else v2, else the first v1 one.
 */
export function primaryHierarchy(layout: CgroupLayout): Hierarchy | undefined {
  return hierarchyOf(layout, 'memory') ?? layout.v2 ?? layout.v1[0];
}

export function describeLayout(layout: CgroupLayout): string {
  const parts = allHierarchies(layout).map((h) => `${h.mount} (v${h.version}${h.controllers.length ? ': ' + h.controllers.join(',') : ', no controllers'})`);
  return parts.length === 0 ? 'no cgroup hierarchy is mounted' : parts.join('; ');
}
