/**
 * Loading the project's N-API addons (built at install by build.mjs): each is optional, and a
 * missing or stale build comes back as a reason the caller can report, never as a crash.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type AddonResult<T> = { addon: T } | { reason: string };

/** Where addon NAME may be: beside this file in a source checkout, or in the project's src/native
 *  when running from dist/. */
function candidates(name: string): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const rel = join('build', 'Release', `${name}.node`);
  return [join(here, rel), join(here, '..', '..', '..', 'src', 'native', rel)];
}

/**
 * Loads addon NAME and checks that it exports `functions`. `what` names it in reasons ("the
 * on-demand socket addon").
 */
export function loadAddon<T>(name: string, what: string, functions: ReadonlyArray<keyof T & string>): AddonResult<T> {
  if (process.platform !== 'linux') return { reason: `${what} needs Linux (this is ${process.platform})` };
  const file = candidates(name).find((f) => existsSync(f));
  if (file === undefined) {
    return { reason: `${what} is not built (no ${candidates(name)[0]}); build it with \`node src/native/build.mjs\` (needs a C compiler and Node headers)` };
  }
  try {
    const mod: unknown = createRequire(import.meta.url)(file);
    if (typeof mod !== 'object' || mod === null || functions.some((n) => typeof (mod as Record<string, unknown>)[n] !== 'function')) {
      return { reason: `${file} is not ${what} (a newer build is needed: \`node src/native/build.mjs\`)` };
    }
    return { addon: mod as T };
  } catch (err) {
    return { reason: `cannot load ${file}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
