/**
 * Wake-ups for "has this path changed?" waiters, from inotify on the path's directory: one watcher
 * per directory however many names are awaited in it, so a thousand vassals starting at once cost
 * one watch and one map look-up per event, not a thousand callbacks per event.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

interface DirWatch {
  watcher: FSWatcher;
  byName: Map<string, Set<() => void>>;
}

const dirs = new Map<string, DirWatch>();

function wakeAll(d: DirWatch): void {
  for (const set of d.byName.values()) for (const wake of [...set]) wake();
}

function drop(dir: string, d: DirWatch): void {
  if (dirs.get(dir) !== d) return;
  dirs.delete(dir);
  d.watcher.close();
}

function open(dir: string): DirWatch | undefined {
  let watcher: FSWatcher;
  try {
    // Not persistent: a pending wait must not keep the process alive on its own.
    watcher = watch(dir, { persistent: false });
  } catch {
    return undefined;
  }
  const d: DirWatch = { watcher, byName: new Map() };
  watcher.on('change', (_event, file) => {
    if (file === null || file === undefined) {
      wakeAll(d);
      return;
    }
    const set = d.byName.get(file.toString());
    if (set) for (const wake of [...set]) wake();
  });
  // The directory went away or cannot be watched any more: waiters look once more, then poll.
  watcher.on('error', () => {
    drop(dir, d);
    wakeAll(d);
  });
  dirs.set(dir, d);
  return d;
}

/**
 * Calls `wake` whenever an entry named like `path` is created, renamed, removed or written in its
 * directory. Returns the function that stops it, or undefined when the directory cannot be watched
 * (it does not exist yet, no inotify watches left): then only polling sees the path.
 */
export function watchName(path: string, wake: () => void): (() => void) | undefined {
  const full = resolve(path);
  const dir = dirname(full);
  const name = basename(full);
  const d = dirs.get(dir) ?? open(dir);
  if (d === undefined) return undefined;
  let set = d.byName.get(name);
  if (!set) d.byName.set(name, (set = new Set()));
  const own = (): void => wake();
  set.add(own);
  return () => {
    set.delete(own);
    if (set.size === 0 && d.byName.get(name) === set) d.byName.delete(name);
    if (d.byName.size === 0) drop(dir, d);
  };
}

/** How many directories are watched now (each is one inotify watch). */
export function watchedDirCount(): number {
  return dirs.size;
}
