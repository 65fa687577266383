/**
 * The emperor's version, from its package.json (beside src/ in a checkout, above dist/ when built).
 * Read synchronously, once: a first stats request during a burst of file-system work would
 * otherwise queue behind it in libuv's thread pool.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function emperorVersion(): string {
  cached ??= readVersion();
  return cached;
}

function readVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'emperor' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // next candidate
    }
  }
  return 'unknown';
}
