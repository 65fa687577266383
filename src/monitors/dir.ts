/**
 * `dir://PATH` (or a plain directory): every config file directly inside PATH is a vassal named by
 * its file name (`app.ini`). Not recursive, as uWSGI.
 */
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { EmperorError, ErrorCodes } from '../errors.js';
import { createFileMonitor, type FileLayout, type FileMonitorOptions } from './file-source.js';
import type { Monitor, MonitorContext, MonitorFactory } from './types.js';

const SCHEME = 'dir://';

/** The directory an argument names, absolute (relative ones against the cwd now). Throws USAGE when it is not an existing directory. */
export function dirOfArgument(arg: string): string {
  const raw = arg.startsWith(SCHEME) ? arg.slice(SCHEME.length) : arg;
  if (raw.trim() === '') throw new EmperorError(ErrorCodes.USAGE, `dir monitor: expected a directory path, got ${JSON.stringify(arg)}`, { key: arg });
  const dir = resolve(raw);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'error';
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    throw new EmperorError(ErrorCodes.USAGE, `dir monitor ${arg}: directory ${dir} ${why}`, { key: arg, cause: err });
  }
  if (!isDir) throw new EmperorError(ErrorCodes.USAGE, `dir monitor ${arg}: ${dir} is not a directory`, { key: arg });
  return dir;
}

export function dirLayout(dir: string): FileLayout {
  // Plain concatenation: join() normalizes, which costs a rescan of thousands of names more than the listing.
  const prefix = dir.endsWith(sep) ? dir : dir + sep;
  return {
    kind: 'directory',
    root: dir,
    list: async () => (await readdir(dir)).map((name) => prefix + name),
    covers: (path) => dirname(path) === dir,
    nameOf: (path) => basename(path),
    watchDepth: 0,
    skipDir: () => true,
    followDirLinks: true,
    flat: true,
  };
}

/** The factory with test-only knobs (see FileMonitorOptions). */
export function createDirMonitorWith(arg: string, ctx: MonitorContext, opts: FileMonitorOptions): Monitor {
  return createFileMonitor(arg, dirLayout(dirOfArgument(arg)), ctx, opts);
}

export const createDirMonitor: MonitorFactory = (arg, ctx) => createDirMonitorWith(arg, ctx, {});
