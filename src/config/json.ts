/**
 * JSON vassal configs (`.json`, and `.js` as uWSGI reads it). JSON.parse gives no positions, so
 * lines are recovered by finding each key in document order: exact for the keys as usually
 * written, absent (never wrong-looking) when a key is spelled with escapes.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import { entriesOfMapping, type SectionSource } from './structured.js';
import { lineAt } from './text.js';

export function parseJson(text: string, origin: string): SectionSource {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const at = /position (\d+)/.exec(message);
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`, {
      file: origin,
      line: at === null ? undefined : lineAt(text, Number(at[1])),
      cause: err,
    });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `expected an object with a top-level "vassal" key, got ${Array.isArray(doc) ? 'a list' : 'a single value'}`, { file: origin, line: 1 });
  }
  const root = doc as Record<string, unknown>;
  return {
    names: Object.keys(root),
    entries(name) {
      const finder = new KeyFinder(text);
      const sectionAt = finder.find(name);
      const lines = new Map<string, { line: number | undefined; items: (number | undefined)[] }>();
      const section = root[name];
      if (section !== null && typeof section === 'object' && !Array.isArray(section)) {
        for (const [key, value] of Object.entries(section)) {
          const line = finder.find(key);
          const items = Array.isArray(value) ? value.map((v: unknown) => (v === null || typeof v !== 'object' ? finder.findValue(JSON.stringify(v)) : undefined)) : [];
          lines.set(key, { line, items });
        }
      }
      return entriesOfMapping(section, name, origin, (key, item) => {
        const at = lines.get(key);
        return item >= 0 ? (at?.items[item] ?? at?.line) : at?.line;
      }, sectionAt);
    },
  };
}

/** Finds `"key":` occurrences moving forward only, counting lines as it goes: linear overall. */
class KeyFinder {
  private pos = 0;
  private line = 1;
  constructor(private readonly text: string) {}

  /** The line of `"key":`. */
  find(key: string): number | undefined {
    return this.seek(JSON.stringify(key), (after) => this.text[after] === ':');
  }

  /** The line of a value as JSON writes it (an item of a list). */
  findValue(json: string): number | undefined {
    return this.seek(json, (after) => after >= this.text.length || ',]'.includes(this.text[after]!));
  }

  private seek(needle: string, followedWell: (after: number) => boolean): number | undefined {
    let from = this.pos;
    for (;;) {
      const at = this.text.indexOf(needle, from);
      if (at === -1) return undefined;
      let after = at + needle.length;
      while (after < this.text.length && ' \t\r\n'.includes(this.text[after]!)) after++;
      if (followedWell(after)) {
        for (let i = this.pos; i < at; i++) if (this.text.charCodeAt(i) === 10) this.line++;
        this.pos = at + needle.length;
        return this.line;
      }
      from = at + 1;
    }
  }
}
