/** Writes vassal configs the way careful users and tools do: atomically (temp file + rename). */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

let seq = 0;

export async function writeVassal(dir: string, name: string, content: string): Promise<string> {
  const path = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${++seq}.tmp`);
  await writeFile(tmp, content);
  await rename(tmp, path);
  return path;
}

/** An ini vassal running `node FIXTURE` with extra lines. */
export function nodeVassal(fixture: string, extra = ''): string {
  return `[vassal]\ncommand = ${process.execPath} ${fixture}\n${extra}\n`;
}
