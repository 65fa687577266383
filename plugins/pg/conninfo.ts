/**
 * libpq's keyword/value connection string (`host=127.0.0.1 dbname='my db' password='it\'s'`), read
 * as libpq reads it: spaces around `=` allowed, a value in single quotes may hold spaces, `\`
 * escapes the next character, quoted or not. Reading stops at the first `;` outside a quoted value:
 * in a `pg://` argument that is where the query starts.
 */
import { EmperorError, ErrorCodes } from '../../src/errors.js';

export interface ConninfoEntry {
  key: string;
  value: string;
  /** Where the value, quotes included, sits in the text (for masking passwords). */
  start: number;
  end: number;
}

export interface Conninfo {
  entries: ConninfoEntry[];
  /** Index of the `;` that ended the conninfo, or the text's length. */
  end: number;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

export function parseConninfo(text: string, option = 'pg://'): Conninfo {
  const fail = (what: string): never => {
    throw new EmperorError(ErrorCodes.USAGE, `${option}: bad connection string: ${what}`, { key: option });
  };
  const entries: ConninfoEntry[] = [];
  let i = 0;
  for (;;) {
    while (isSpace(text[i])) i += 1;
    if (i >= text.length || text[i] === ';') break;
    const keyStart = i;
    while (i < text.length && text[i] !== '=' && !isSpace(text[i]) && text[i] !== ';') i += 1;
    const key = text.slice(keyStart, i);
    if (key === '') fail(`missing keyword before "=" at offset ${i}`);
    while (isSpace(text[i])) i += 1;
    if (text[i] !== '=') fail(`expected "=" after "${key}"`);
    i += 1;
    while (isSpace(text[i])) i += 1;
    const start = i;
    let value = '';
    if (text[i] === "'") {
      i += 1;
      for (;;) {
        if (i >= text.length) fail(`unterminated quoted value for "${key}"`);
        const c = text[i] as string;
        if (c === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i += 1;
          break;
        } else {
          value += c;
          i += 1;
        }
      }
    } else {
      while (i < text.length && !isSpace(text[i]) && text[i] !== ';') {
        if (text[i] === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else {
          value += text[i];
          i += 1;
        }
      }
    }
    entries.push({ key, value, start, end: i });
  }
  return { entries, end: i };
}
