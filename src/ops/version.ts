/** The emperor's version, from its package.json (beside src/ in a checkout, above dist/ when built). */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

let cached: Promise<string> | undefined;

export function emperorVersion(): Promise<string> {
  cached ??= (async () => {
    for (const rel of ['../../package.json', '../../../package.json']) {
      try {
        const pkg = JSON.parse(await readFile(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'emperor' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // next candidate
      }
    }
    return 'unknown';
  })();
  return cached;
}
