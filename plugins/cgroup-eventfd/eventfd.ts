/**
 * cgroup v1 notifications (memory thresholds, OOM) through eventfd, watched on the event loop by
 * a small native addon: no thread per watch, no blocking read in the thread pool. The addon is
 * built at install; when it is not, eventfdAvailable() says why and the emperor runs without it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmperorError, ErrorCodes } from '../../src/errors.js';

interface Addon {
  watch(
    controlFile: string,
    subjectFile: string,
    extra: string | undefined,
    onEvent: (count: bigint) => void,
    onError: (err: Error) => void,
  ): () => void;
}

export interface EventfdWatch {
  /** Stops watching and closes the eventfd. Idempotent. */
  close(): void;
}

let loaded: { addon: Addon } | { reason: string } | undefined;

/** The addon sits beside this file in a source checkout, or in the project's plugin folder when
 * this file runs compiled from dist/. */
function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const rel = join('build', 'Release', 'eventfd.node');
  return [join(here, rel), join(here, '..', '..', '..', 'plugins', 'cgroup-eventfd', rel)];
}

function load(): { addon: Addon } | { reason: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { reason: `eventfd notifications need Linux (this is ${process.platform})` };
    return loaded;
  }
  const file = addonCandidates().find((f) => existsSync(f));
  if (file === undefined) {
    loaded = { reason: `the eventfd addon is not built (no ${addonCandidates()[0]}); build it with \`node src/native/build.mjs\` (needs a C compiler and Node headers)` };
    return loaded;
  }
  try {
    const mod: unknown = createRequire(import.meta.url)(file);
    if (typeof mod !== 'object' || mod === null || typeof (mod as Partial<Addon>).watch !== 'function') {
      loaded = { reason: `${file} is not the eventfd addon (no watch function)` };
    } else {
      loaded = { addon: mod as Addon };
    }
  } catch (err) {
    loaded = { reason: `cannot load ${file}: ${err instanceof Error ? err.message : String(err)}` };
  }
  return loaded;
}

export function eventfdAvailable(): { ok: true } | { ok: false; reason: string } {
  const l = load();
  return 'addon' in l ? { ok: true } : { ok: false, reason: l.reason };
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new EmperorError(ErrorCodes.USAGE, `${name}: expected a file path, got ${JSON.stringify(value)}`, { key: name });
  }
  return value;
}

/**
 * Registers an eventfd for `subjectFile` through `controlFile` (cgroup v1: cgroup.event_control)
 * with the optional `extra` argument (a threshold in bytes for memory.usage_in_bytes, a level for
 * memory.pressure_level, nothing for memory.oom_control), and calls `onEvent` with the eventfd
 * counter on every notification. Setup failures throw an Error naming the file and the system's
 * reason (code ENOENT, EINVAL...). A later failure of the descriptor, or an exception thrown by
 * `onEvent`, goes to `onError`; a failed descriptor is no longer watched.
 */
export function watchEventfd(
  controlFile: string,
  subjectFile: string,
  extra: string | undefined,
  onEvent: (count: bigint) => void,
  onError: (err: Error) => void,
): EventfdWatch {
  const l = load();
  if (!('addon' in l)) throw new EmperorError(ErrorCodes.NATIVE_UNAVAILABLE, l.reason);
  nonEmpty('controlFile', controlFile);
  nonEmpty('subjectFile', subjectFile);
  if (extra !== undefined && (typeof extra !== 'string' || /[\0\n]/.test(extra))) {
    throw new EmperorError(ErrorCodes.USAGE, `extra: expected one line of text, got ${JSON.stringify(extra)}`, { key: 'extra' });
  }
  const closeNative = l.addon.watch(
    controlFile,
    subjectFile,
    extra,
    (count) => {
      try {
        onEvent(count);
      } catch (err) {
        onError(err instanceof Error ? err : new Error(String(err)));
      }
    },
    onError,
  );
  return { close: () => closeNative() };
}
