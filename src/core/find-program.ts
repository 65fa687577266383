/** Finds a program the way execvp will: a path as given (relative to cwd), else the first match in PATH. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

function candidates(program: string, cwd: string, path: string): string[] {
  return program.includes('/') ? [isAbsolute(program) ? program : resolve(cwd, program)] : path.split(delimiter).filter(Boolean).map((d) => join(resolve(cwd, d), program));
}

/**
 * On the event loop itself: a walk along PATH is a few cached metadata lookups, microseconds in
 * all, where an asynchronous walk takes two thread-pool round trips per directory (milliseconds
 * on a busy host, when a burst of vassals has the pool queued up). For lookups on the way to a
 * spawn.
 */
export function findProgramNow(program: string, cwd: string, path: string): string | undefined {
  for (const c of candidates(program, cwd, path)) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // next candidate
    }
  }
  return undefined;
}
