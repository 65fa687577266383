/**
 * XML vassal configs: `<vassal><key>value</key>…</vassal>`, as uWSGI writes them. Order is kept
 * (log-alarm and not-log-alarm rules depend on it), a repeated element is a repeated key and an
 * empty element (`<master/>`) is a flag. A DOCTYPE is refused: configs have no use for entity
 * definitions, and refusing them rules out entity-expansion bombs.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { SectionSource } from './structured.js';
import type { RawEntry } from './types.js';
import { lineAt, shown } from './text.js';

type OrderedNode = Record<string, unknown>;

const parser = (): XMLParser =>
  new XMLParser({
    preserveOrder: true,
    ignoreAttributes: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    parseTagValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: false,
  });

function tagOf(node: OrderedNode): string | undefined {
  for (const k of Object.keys(node)) if (k !== ':@') return k;
  return undefined;
}

export function parseXml(text: string, origin: string): SectionSource {
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype !== null) {
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, 'invalid XML: a DOCTYPE is not allowed in a vassal config', {
      file: origin,
      line: lineAt(text, doctype.index),
    });
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, `invalid XML: ${valid.err.msg}`, { file: origin, line: valid.err.line });
  }
  const roots = (parser().parse(text) as OrderedNode[]).filter((n) => {
    const tag = tagOf(n);
    return tag !== undefined && tag !== '#text' && !tag.startsWith('?');
  });
  const names = roots.map((n) => tagOf(n)!);
  return {
    names,
    entries(name) {
      const root = roots[names.indexOf(name)];
      if (root === undefined) return [];
      return childEntries(root[name] as OrderedNode[], name, text, origin);
    },
  };
}

function childEntries(children: OrderedNode[], section: string, text: string, origin: string): RawEntry[] {
  const finder = new TagFinder(text);
  finder.find(section);
  const entries: RawEntry[] = [];
  for (const child of children) {
    const key = tagOf(child);
    if (key === undefined) continue;
    if (key === '#text') {
      throw new EmperorError(ErrorCodes.CONFIG_INVALID, `<${section}>: expected only elements inside, got text ${shown(String(child[key]))}`, {
        file: origin,
        key: section,
      });
    }
    const line = finder.find(key);
    const content = child[key] as OrderedNode[];
    let value = 'true';
    if (content.length > 0) {
      const only = content.length === 1 ? content[0] : undefined;
      if (only === undefined || tagOf(only) !== '#text') {
        const inner = content.map(tagOf).find((t) => t !== '#text');
        throw new EmperorError(ErrorCodes.CONFIG_INVALID, `${key}: expected a value, got nested elements${inner === undefined ? '' : ` (<${inner}>)`}`, {
          file: origin,
          line,
          key,
        });
      }
      value = String(only['#text']);
    }
    const entry: RawEntry = { key, value };
    if (line !== undefined) entry.line = line;
    entries.push(entry);
  }
  return entries;
}

/** Finds `<tag` openings moving forward only, counting lines as it goes: linear overall. */
class TagFinder {
  private pos = 0;
  private line = 1;
  constructor(private readonly text: string) {}

  find(tag: string): number | undefined {
    const needle = `<${tag}`;
    let from = this.pos;
    for (;;) {
      const at = this.text.indexOf(needle, from);
      if (at === -1) return undefined;
      const next = this.text[at + needle.length];
      if (next === '>' || next === '/' || next === ' ' || next === '\t' || next === '\n' || next === '\r') {
        for (let i = this.pos; i < at; i++) if (this.text.charCodeAt(i) === 10) this.line++;
        this.pos = at + needle.length;
        return this.line;
      }
      from = at + 1;
    }
  }
}
