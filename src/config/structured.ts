/**
 * yaml, json and xml configs become the same flat entries as ini: a top-level `vassal` (or
 * `uwsgi`) mapping whose values are scalars or lists of scalars. A list is the structured way to
 * repeat a key. Deeper nesting has no meaning in a vassal config and is refused by key.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { RawEntry } from './types.js';

/** The sections a document holds, converted on demand: the ones we do not read may be anything. */
export interface SectionSource {
  readonly names: readonly string[];
  entries(name: string): RawEntry[];
}

/** Where each key (and each item of a list) sits in the text, where the parser lets us know. */
export type Locate = (key: string, item: number) => number | undefined;

type Scalar = string | number | boolean | bigint | null;

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';
}

/** `true` becomes "true", a number its decimal text, an empty value "". */
function text(v: Scalar): string {
  return v === null ? '' : String(v);
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a mapping';
  return typeof v;
}

export function entriesOfMapping(
  section: unknown,
  sectionName: string,
  origin: string,
  locate: Locate,
  sectionLine?: number,
): RawEntry[] {
  if (section === null || section === undefined) return [];
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `${sectionName}: expected a mapping of keys to values, got ${kindOf(section)}`, {
      file: origin,
      line: sectionLine,
      key: sectionName,
    });
  }
  const entries: RawEntry[] = [];
  for (const [key, value] of Object.entries(section)) {
    const nested = (what: string, item: number): never => {
      throw new EmperorError(ErrorCodes.CONFIG_INVALID, `${key}: expected a value or a list of values, got ${what}`, {
        file: origin,
        line: locate(key, item),
        key,
      });
    };
    if (key.trim() === '') nested('an empty key', -1);
    if (Array.isArray(value)) {
      value.forEach((item: unknown, i) => {
        if (!isScalar(item)) nested(`${kindOf(item)} inside the list`, i);
        entries.push(withLine({ key, value: text(item as Scalar) }, locate(key, i)));
      });
    } else if (isScalar(value)) {
      entries.push(withLine({ key, value: text(value) }, locate(key, -1)));
    } else {
      nested(kindOf(value), -1);
    }
  }
  return entries;
}

function withLine(entry: RawEntry, line: number | undefined): RawEntry {
  if (line !== undefined) entry.line = line;
  return entry;
}
