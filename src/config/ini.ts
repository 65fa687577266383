/**
 * The uWSGI ini dialect. Unlike common ini readers, a comment is a whole line starting with `;` or
 * `#`: a value runs to the end of its line, so `alarm = m curl:smtp://h;mail_to=x` keeps its `;`.
 * Repeated keys are repeated entries, in order, because many keys are lists.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { RawEntry } from './types.js';
import { shown } from './text.js';

export interface IniSection {
  name: string;
  /** Line of the first `[name]` header; a section named twice continues where it left off. */
  line: number;
  entries: RawEntry[];
}

/** A key given alone on its line, as uWSGI allows for flags (`master`): it means `key = true`. */
const BARE_FLAG = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parses the whole text (BOM already stripped); sections in order of first appearance. */
export function parseIni(text: string, origin: string): IniSection[] {
  const sections: IniSection[] = [];
  const byName = new Map<string, IniSection>();
  let current: IniSection | undefined;
  function fail(line: number, message: string): never {
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, message, { file: origin, line });
  }

  let start = 0;
  let lineNo = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    const line = text.slice(start, end).trim();
    start = end + 1;

    if (line === '') continue;
    const first = line[0];
    if (first === ';' || first === '#') continue;

    if (first === '[') {
      if (!line.endsWith(']')) fail(lineNo, `expected a section header like [vassal], got ${shown(line)} (a header stands alone on its line)`);
      const name = line.slice(1, -1).trim();
      if (name === '' || name.includes('[') || name.includes(']')) fail(lineNo, `expected a section header like [vassal], got ${shown(line)}`);
      current = byName.get(name);
      if (current === undefined) {
        current = { name, line: lineNo, entries: [] };
        byName.set(name, current);
        sections.push(current);
      }
      continue;
    }

    let key: string;
    let value: string;
    const eq = line.indexOf('=');
    if (eq !== -1) {
      key = line.slice(0, eq).trim();
      value = line.slice(eq + 1).trim();
      if (key === '') fail(lineNo, `expected 'key = value', got ${shown(line)} (nothing before '=')`);
      if (/\s/.test(key)) fail(lineNo, `expected 'key = value', got ${shown(line)} (a key has no spaces)`);
    } else if (BARE_FLAG.test(line)) {
      key = line;
      value = 'true';
    } else {
      fail(lineNo, `expected 'key = value', a [section] or a comment line, got ${shown(line)}`);
    }
    if (current === undefined) {
      fail(lineNo, `'${key}' comes before any section: put it under a [vassal] header`);
    }
    current.entries.push({ key, value, line: lineNo });
  }
  return sections;
}
