/**
 * `glob://PATTERN` (or a bare pattern with glob magic): every config file the pattern matches is a
 * vassal named by its full path. Patterns may span directories (a `*` in a directory part picks
 * one subdirectory per app); relative ones resolve against the cwd when the monitor is created.
 */
import { statSync } from 'node:fs';
import fg from 'fast-glob';
import { EmperorError, ErrorCodes } from '../errors.js';
import { createFileMonitor, type FileLayout, type FileMonitorOptions } from './file-source.js';
import { parseGlob, type GlobPattern } from './glob-pattern.js';
import type { Monitor, MonitorContext, MonitorFactory } from './types.js';

const SCHEME = 'glob://';

/** The pattern an argument names, made absolute. Throws USAGE for an empty or negated pattern or a missing base directory. */
export function globOfArgument(arg: string, cwd = process.cwd()): GlobPattern {
  const raw = arg.startsWith(SCHEME) ? arg.slice(SCHEME.length) : arg;
  if (raw.trim() === '') throw new EmperorError(ErrorCodes.USAGE, `glob monitor: expected a glob pattern, got ${JSON.stringify(arg)}`, { key: arg });
  if (raw.startsWith('!')) throw new EmperorError(ErrorCodes.USAGE, `glob monitor ${arg}: expected a pattern of files to match, got a negated pattern`, { key: arg });
  const g = parseGlob(raw, cwd);
  let isDir: boolean;
  try {
    isDir = statSync(g.base).isDirectory();
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'error';
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    throw new EmperorError(ErrorCodes.USAGE, `glob monitor ${arg}: the pattern's base directory ${g.base} ${why}`, { key: arg, cause: err });
  }
  if (!isDir) throw new EmperorError(ErrorCodes.USAGE, `glob monitor ${arg}: the pattern's base ${g.base} is not a directory`, { key: arg });
  return g;
}

export function globLayout(g: GlobPattern): FileLayout {
  const followLinks = g.depth !== undefined;
  return {
    kind: 'glob base',
    root: g.base,
    // Directories are listed too, so that a directory named like a config is reported, not skipped.
    // `**` does not descend into symlinked directories (as bash's globstar): a link loop would
    // otherwise turn one config into dozens of vassals. Bounded patterns follow links, as glob(3).
    list: () => fg(g.pattern, { absolute: true, onlyFiles: false, dot: false, followSymbolicLinks: followLinks, suppressErrors: false, unique: true }),
    covers: (path) => g.matches(path),
    nameOf: (path) => path,
    watchDepth: g.depth,
    skipDir: (path) => g.skipDir(path),
    followDirLinks: followLinks,
    flat: false,
  };
}

/** The factory with test-only knobs (see FileMonitorOptions). */
export function createGlobMonitorWith(arg: string, ctx: MonitorContext, opts: FileMonitorOptions): Monitor {
  return createFileMonitor(arg, globLayout(globOfArgument(arg)), ctx, opts);
}

export const createGlobMonitor: MonitorFactory = (arg, ctx) => createGlobMonitorWith(arg, ctx, {});
