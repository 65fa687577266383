/**
 * log-alarm patterns run on every output line of a vassal inside the emperor's event loop, so they
 * are RE2 (linear time, no backtracking). Checking them here lets a bad pattern fail the config with
 * its file and line, before the running version is replaced.
 */
import { createRequire } from 'node:module';

type RE2Constructor = new (pattern: string) => unknown;

let re2: RE2Constructor | undefined;

function load(): RE2Constructor {
  // Loaded on first use: a native addon, needed only by configs that have log alarms.
  re2 ??= createRequire(import.meta.url)('re2') as RE2Constructor;
  return re2;
}

/** Undefined when RE2 accepts the pattern, otherwise RE2's reason. */
export function regexProblem(pattern: string): string | undefined {
  const RE2 = load();
  try {
    new RE2(pattern);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
