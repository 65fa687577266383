/**
 * From a vassal's `cgroup` value to where its cgroup lives. A relative name goes under
 * `--cgroup-root` (a path relative to every hierarchy's mount, `emperor` by default); an absolute
 * path names a cgroup under one mount and is taken relative to it, so the same cgroup is used in
 * every hierarchy the vassal joins. Resolution is synchronous and needs only the layout read at
 * start, so the emperor can compute %(cgroup) while it loads a config.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import { allHierarchies, describeLayout, primaryHierarchy, type CgroupLayout } from './cgroup-layout.js';

export interface CgroupSettings {
  layout: CgroupLayout;
  /** `--cgroup-root`, normalized by normalizeCgroupRoot: relative to each mount, no leading or trailing slash. */
  root: string;
  /** Tyrant mode: a vassal's cgroup must lie under the root. */
  confine: boolean;
}

export interface CgroupLocation {
  /** The path below each hierarchy's mount (`emperor/app`). */
  relative: string;
  /** The absolute path %(cgroup) stands for: in the memory controller's hierarchy where there is one. */
  path: string;
  /** Under --cgroup-root: the emperor may empty and remove it even if it existed before. */
  managed: boolean;
}

export const DEFAULT_CGROUP_ROOT = 'emperor';

/** Components of a cgroup path; `..` is refused, empty and `.` components dropped. */
function components(value: string, what: string, key: string): string[] {
  const parts = value.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new EmperorError(ErrorCodes.PERMISSION, `${what}: '..' is not allowed in a cgroup path, got '${value}'`, { key });
  }
  if (parts.some((p) => p.includes('\0') || p.includes('\n'))) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `${what}: expected a cgroup path without control characters, got ${JSON.stringify(value)}`, { key });
  }
  return parts;
}

/** The `--cgroup-root` value in the form CgroupSettings.root wants (`/emperor/` -> `emperor`, `/` -> ``). */
export function normalizeCgroupRoot(value: string): string {
  if (value.startsWith('/sys/')) {
    throw new EmperorError(ErrorCodes.USAGE, `--cgroup-root: expected a path relative to each cgroup mount (e.g. emperor or system.slice/emperor), got the absolute path '${value}'`, { key: 'cgroup-root' });
  }
  return components(value, '--cgroup-root', 'cgroup-root').join('/');
}

/** Where the vassal's cgroup is for `value` (its `cgroup` key). Throws an EmperorError naming the key. */
export function resolveCgroupPath(value: string, s: CgroupSettings): CgroupLocation {
  const primary = primaryHierarchy(s.layout);
  if (primary === undefined) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `cgroup: ${describeLayout(s.layout)} on this host, so '${value}' cannot be created`, { key: 'cgroup' });
  }
  let parts: string[];
  if (value.startsWith('/')) {
    const mount = allHierarchies(s.layout).map((h) => h.mount).find((m) => value === m || value.startsWith(m + '/'));
    if (mount === undefined) {
      throw new EmperorError(ErrorCodes.CONFIG_INVALID, `cgroup: '${value}' is not under a cgroup mount (${describeLayout(s.layout)}); write a path under one of them, or a name relative to the cgroup root${s.root ? ` '${s.root}'` : ''}`, { key: 'cgroup' });
    }
    parts = components(value.slice(mount.length), 'cgroup', 'cgroup');
  } else {
    parts = [...components(s.root, '--cgroup-root', 'cgroup-root'), ...components(value, 'cgroup', 'cgroup')];
  }
  // The root cgroup holds every process on the host: never a vassal's to empty or remove.
  if (parts.length === 0) {
    throw new EmperorError(ErrorCodes.PERMISSION, `cgroup: '${value}' is a hierarchy's root cgroup; a vassal needs a cgroup of its own below it`, { key: 'cgroup' });
  }
  const relative = parts.join('/');
  const rootParts = s.root === '' ? [] : s.root.split('/');
  const underRoot = parts.length > rootParts.length && rootParts.every((p, i) => parts[i] === p);
  if (s.confine && !underRoot) {
    throw new EmperorError(ErrorCodes.PERMISSION, `cgroup: tyrant mode keeps every vassal's cgroup under the cgroup root '${s.root || '/'}', and '${value}' is outside it`, { key: 'cgroup' });
  }
  return { relative, path: `${primary.mount}/${relative}`, managed: underRoot };
}
