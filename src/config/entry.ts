/**
 * An entry on its way from the text to the typed config: it remembers the file it came from (the
 * vassal's own, an include, a --vassal-set) so every error can point there.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { ConfigFormat } from '../monitors/types.js';
import type { RawEntry } from './types.js';
import { shown } from './text.js';
import { Expected } from './values.js';

/** Who wins for a single-valued key: a --vassal-set, then the vassal's own file, then includes. */
export const Rank = { include: 0, own: 1, set: 2 } as const;
export type Rank = (typeof Rank)[keyof typeof Rank];

export interface SourcedEntry extends RawEntry {
  origin: string;
  rank: Rank;
  /** The format of the file it came from, or `set` for --vassal-set. */
  format: ConfigFormat | 'set';
}

export function invalid(entry: Pick<SourcedEntry, 'key' | 'origin' | 'line'>, message: string, cause?: unknown): EmperorError {
  return new EmperorError(ErrorCodes.CONFIG_INVALID, `${entry.key}: ${message}`, {
    file: entry.origin,
    line: entry.line,
    key: entry.key,
    cause,
  });
}

/** "processes: expected an integer from 1 to 4096, got 'two'". */
export function expected(entry: SourcedEntry, what: string, detail?: string, value = entry.value): EmperorError {
  return invalid(entry, `expected ${what}, got ${shown(value)}${detail === undefined ? '' : ` (${detail})`}`);
}

/** Runs a value reader, turning its Expected into a located error. */
export function read<T>(entry: SourcedEntry, reader: (value: string) => T, value = entry.value): T {
  try {
    return reader(value);
  } catch (err) {
    if (err instanceof Expected) throw expected(entry, err.expected, err.detail, value);
    throw err;
  }
}

/** The entry that decides a single-valued key: highest rank, and the last one within it. */
export function effective<E extends { rank: Rank }>(entries: readonly E[] | undefined): E | undefined {
  if (entries === undefined) return undefined;
  let best: E | undefined;
  for (const e of entries) if (best === undefined || e.rank >= best.rank) best = e;
  return best;
}

/** Entries grouped by key, each group in config order. */
export function byKey<E extends { key: string }>(entries: readonly E[]): Map<string, E[]> {
  const map = new Map<string, E[]>();
  for (const e of entries) {
    const list = map.get(e.key);
    if (list === undefined) map.set(e.key, [e]);
    else list.push(e);
  }
  return map;
}
