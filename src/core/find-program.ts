/** Finds a program the way execvp will: a path as given (relative to cwd), else the first match in PATH. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export async function findProgram(program: string, cwd: string, path: string): Promise<string | undefined> {
  const candidates = program.includes('/') ? [isAbsolute(program) ? program : resolve(cwd, program)] : path.split(delimiter).filter(Boolean).map((d) => join(resolve(cwd, d), program));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if ((await stat(c)).isFile()) return c;
    } catch {
      // next candidate
    }
  }
  return undefined;
}
