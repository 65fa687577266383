/**
 * Whether a user could reach a path, checked by the root emperor on the user's behalf with the
 * kernel's rules for mode bits: search permission on every directory the lookup walks (the path
 * as written and, through symlinks, the real one), then the wanted access on the file. Used where
 * a vassal's config only makes the emperor look at a path (file: probes, chdir, command, an early
 * logto check); what the emperor opens for a vassal it opens as the user (user-open.ts).
 * POSIX ACLs are not read: an ACL can only make this answer stricter than the kernel's, except an
 * ACL entry that denies one user what the mode bits grant to others.
 */
import { realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import type { Credentials } from './credentials.js';

export const R = 4;
export const W = 2;
export const X = 1;

export type Access = { ok: true } | { ok: false; reason: string };

type Who = Pick<Credentials, 'uid' | 'groups'>;

/** The mode bits that apply to `who` (owner, else group, else other) contain `want`. */
export function permits(st: Pick<Stats, 'uid' | 'gid' | 'mode'>, who: Who, want: number): boolean {
  const shift = st.uid === who.uid ? 6 : who.groups.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & want) === want;
}

function what(want: number, dir: boolean): string {
  return [want & R ? 'read' : '', want & W ? 'write' : '', want & X ? (dir ? 'search' : 'execute') : ''].filter(Boolean).join('/');
}

async function statOrReason(path: string): Promise<Stats | string> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? `${path} does not exist` : `cannot stat ${path} (${code ?? String(err)})`;
  }
}

/** Search permission on every ancestor of `path` (itself excluded). */
async function walk(path: string, who: Who): Promise<Access> {
  const ancestors: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    ancestors.unshift(d);
    if (d === '/') break;
  }
  for (const d of ancestors) {
    const st = await statOrReason(d);
    if (typeof st === 'string') return { ok: false, reason: st };
    if (!st.isDirectory()) return { ok: false, reason: `${d} is not a directory` };
    if (!permits(st, who, X)) return { ok: false, reason: `no search permission on ${d}` };
  }
  return { ok: true };
}

/**
 * Could `who` access `path` with `want` (R, W, X or'ed; 0: only see that it exists)? `path` must
 * be absolute. A path that does not exist is refused with that reason.
 */
export async function mayAccess(path: string, who: Who, want: number): Promise<Access> {
  if (!isAbsolute(path)) return { ok: false, reason: `${path} is not an absolute path` };
  const written = await walk(path, who);
  if (!written.ok) return written;
  const st = await statOrReason(path);
  if (typeof st === 'string') return { ok: false, reason: st };
  const real = await realpath(path).catch(() => path);
  if (real !== path) {
    const resolved = await walk(real, who);
    if (!resolved.ok) return resolved;
  }
  if (want !== 0 && !permits(st, who, want)) return { ok: false, reason: `no ${what(want, st.isDirectory())} permission on ${path}` };
  return { ok: true };
}

/** Could `who` append to `path`, creating it if missing (write on the file, or write+search on its directory)? */
export async function mayAppend(path: string, who: Who): Promise<Access> {
  if (!isAbsolute(path)) return { ok: false, reason: `${path} is not an absolute path` };
  const st = await statOrReason(path);
  if (typeof st !== 'string') {
    if (!st.isFile()) return { ok: false, reason: `${path} is not a regular file` };
    return mayAccess(path, who, W);
  }
  return mayAccess(dirname(path), who, W | X);
}
