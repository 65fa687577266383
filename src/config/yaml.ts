/**
 * YAML vassal configs. The failsafe schema keeps every scalar as the text that was written, so
 * `mode: 0660` stays octal-looking and `on: yes` is not turned into a boolean behind our back;
 * the validator reads the text itself. Merge keys (`<<: *defaults`) are kept: they are how YAML
 * users share settings. Line numbers come from the parser's node events.
 */
import yaml from 'js-yaml';
import { EmperorError, ErrorCodes } from '../errors.js';
import { entriesOfMapping, type SectionSource } from './structured.js';

let schema: yaml.Schema | undefined;

function textSchema(): yaml.Schema {
  if (schema === undefined) {
    // The standard `<<` merge type (js-yaml resolves merges by this tag), on top of text scalars.
    const merge = new yaml.Type('tag:yaml.org,2002:merge', { kind: 'scalar', resolve: (data: unknown) => data === '<<' || data === null });
    schema = yaml.FAILSAFE_SCHEMA.extend({ implicit: [merge] });
  }
  return schema;
}

interface KeyLines {
  line: number;
  items: number[];
}

export function parseYaml(text: string, origin: string): SectionSource {
  // Depth 1 is the document's root mapping, 2 its keys and values (the sections), 3 a section's
  // keys and values, 4 the items of a list value.
  const lines = new Map<string, Map<string, KeyLines>>();
  let depth = 0;
  let topIsKey = true;
  let section: Map<string, KeyLines> | undefined;
  let keyIsNext = true;
  let keyLine = 0;
  let current: KeyLines | undefined;

  let doc: unknown;
  try {
    doc = yaml.load(text, {
      filename: origin,
      schema: textSchema(),
      listener(event, state) {
        if (event === 'open') {
          depth++;
          if (depth === 3 && keyIsNext) keyLine = state.line + 1;
          else if (depth === 4 && !keyIsNext && current !== undefined) current.items.push(state.line + 1);
          return;
        }
        if (depth === 2) {
          if (topIsKey) {
            section = new Map();
            lines.set(String(state.result), section);
          }
          topIsKey = !topIsKey;
          keyIsNext = true;
          current = undefined;
        } else if (depth === 3 && section !== undefined) {
          if (keyIsNext) {
            const key = String(state.result);
            current = section.get(key);
            if (current === undefined) {
              current = { line: keyLine, items: [] };
              section.set(key, current);
            }
          }
          keyIsNext = !keyIsNext;
        }
        depth--;
      },
    });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      throw new EmperorError(ErrorCodes.CONFIG_PARSE, `invalid YAML: ${err.reason}`, {
        file: origin,
        line: err.mark === undefined ? undefined : err.mark.line + 1,
        cause: err,
      });
    }
    throw err;
  }

  if (doc === undefined || doc === null) return { names: [], entries: () => [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `expected a mapping with a top-level 'vassal' key, got ${Array.isArray(doc) ? 'a list' : 'a single value'}`, { file: origin, line: 1 });
  }
  const root = doc as Record<string, unknown>;
  return {
    names: Object.keys(root),
    entries(name) {
      const at = lines.get(name);
      return entriesOfMapping(root[name], name, origin, (key, item) => {
        const k = at?.get(key);
        if (k === undefined) return undefined;
        return item >= 0 ? (k.items[item] ?? k.line) : k.line;
      });
    },
  };
}
