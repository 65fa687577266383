/** Finds the uwsgi binary the way execvp will: a path as given, else the first match in PATH. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export async function findBinary(binary: string, cwd: string, path: string): Promise<string | undefined> {
  const candidates = binary.includes('/') ? [isAbsolute(binary) ? binary : resolve(cwd, binary)] : path.split(delimiter).filter(Boolean).map((d) => join(resolve(cwd, d), binary));
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
