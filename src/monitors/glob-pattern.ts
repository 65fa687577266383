/**
 * A glob pattern taken apart for watching: its static base (the directory to watch), how deep
 * matches can lie below it, and a per-level test that keeps the watcher out of directories that
 * cannot hold a match (a pattern that picks one subdirectory per user under /home must not cost
 * an inotify watch for every directory of every user).
 */
import { isAbsolute, posix, relative, sep } from 'node:path';
import picomatch from 'picomatch';

export interface GlobPattern {
  /** Absolute pattern. */
  pattern: string;
  /** Longest leading directory without glob magic. */
  base: string;
  /** Whole-path test. */
  matches: (path: string) => boolean;
  /** Directory levels below base the watcher must enter (undefined: any depth, `**`). */
  depth: number | undefined;
  /** True for a directory below base that no match can lie in. */
  skipDir: (path: string) => boolean;
}

const OPTS = { dot: false } as const;

export function parseGlob(input: string, cwd: string): GlobPattern {
  const pattern = isAbsolute(input) ? input : posix.join(cwd, input);
  const scan = picomatch.scan(pattern, { parts: true });
  const isGlob = scan.isGlob;
  // A pattern without magic names one file: watch its directory.
  const base = isGlob ? scan.base || '/' : posix.dirname(pattern);
  const globPart = isGlob ? scan.glob : posix.basename(pattern);
  const segments = splitTopLevel(globPart);
  const matches = picomatch(pattern, OPTS);

  // A segment that spans levels (`{a,b/c}`) or a globstar defeats per-level filtering.
  const unbounded = segments.some((s) => s.includes('**') || s.includes('/'));
  const levelTests = segments.map((s) => picomatch(s, OPTS));
  const depth = unbounded ? undefined : Math.max(0, segments.length - 1);

  const skipDir = (path: string): boolean => {
    if (unbounded) return false;
    const rel = relative(base, path);
    if (rel === '') return false;
    if (rel.startsWith('..')) return true;
    const parts = rel.split(sep);
    // Directories can only sit at the levels before the last segment.
    if (parts.length >= segments.length) return true;
    return parts.some((p, i) => !levelTests[i]!(p));
  };
  return { pattern, base, matches, depth, skipDir };
}

/** Splits on `/` outside braces, brackets and parentheses. */
function splitTopLevel(glob: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) {
      cur += c + glob[i + 1]!;
      i++;
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    else if ((c === '}' || c === ']' || c === ')') && depth > 0) depth--;
    if (c === '/' && depth === 0) {
      if (cur !== '') out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}
