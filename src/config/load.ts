/**
 * From config text to a loaded vassal config: parse by format, pick the `[vassal]` (else
 * `[uwsgi]`) section, merge --vassals-include files and --vassal-set values, expand placeholders
 * and validate. Everything returned is deeply frozen.
 *
 * Precedence: a repeatable key is a list of the vassal's own values, then each include's, then the
 * --vassal-set ones. A single-valued key takes the last --vassal-set value if there is one, else the
 * vassal's own last value, else the last value of the last include that sets it: an include is a
 * template the vassal refines, a set is the operator's override.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { ConfigFormat, VassalConfigSource } from '../monitors/types.js';
import type { LoadedConfig, RawConfig, RawEntry } from './types.js';
import { byKey, effective, invalid, Rank, type SourcedEntry } from './entry.js';
import { deepFreeze } from './freeze.js';
import { parseIni } from './ini.js';
import { parseJson } from './json.js';
import { keyDef } from './keys.js';
import { createExpander, fileVars, PlaceholderError, type Computed, type Expand } from './placeholders.js';
import { canonicalKeys, readPlaceholderDef, validateVassal, type ExpandedEntry } from './schema.js';
import type { SectionSource } from './structured.js';
import { checkText } from './text.js';
import { uwsgiConfig } from './uwsgi.js';
import { parseXml } from './xml.js';
import { parseYaml } from './yaml.js';

export { detectFormat, isConfigName, sniffFormat } from './format.js';

export interface LoadOptions {
  /** The vassal's name with its extension (`app.ini`), or the full path of a glob vassal. */
  name: string;
  /** For %h. */
  hostname: string;
  /** For $(VAR); an unset variable expands to nothing, as in uWSGI. */
  env: Readonly<Record<string, string | undefined>>;
  /** --vassals-include files, parsed (see the precedence rule above). */
  includes?: readonly RawConfig[];
  /** --vassal-set KEY=VALUE overrides; a KEY that is no config key defines the placeholder %(KEY). */
  sets?: readonly (readonly [string, string])[];
  /**
   * Values the emperor computes, reachable as %(key) and taking precedence over the config's own
   * value: e.g. `cgroup` as an absolute path. A function receives the config's own (expanded) value
   * of that key and returns the computed one, or undefined to fall back to the config's value.
   */
  computed?: Readonly<Record<string, Computed>>;
  /** Option names that plugins read from `entries` (trigger options): accepted as repeatable keys. */
  pluginKeys?: readonly string[];
  /** The directory %d stands for when the config has no file (default: the emperor's cwd). */
  cwd?: string;
  /** The name errors point to (default: the source's path, else `name`). */
  origin?: string;
}

const SET_ORIGIN = '--vassal-set';

function sectionLabel(format: ConfigFormat, name: string): string {
  if (format === 'ini') return `[${name}]`;
  if (format === 'xml') return `<${name}>`;
  return `'${name}'`;
}

function sections(text: string, format: ConfigFormat, origin: string): SectionSource {
  switch (format) {
    case 'ini': {
      const found = parseIni(text, origin);
      return { names: found.map((s) => s.name), entries: (name) => found.find((s) => s.name === name)?.entries ?? [] };
    }
    case 'yaml':
      return parseYaml(text, origin);
    case 'json':
      return parseJson(text, origin);
    case 'xml':
      return parseXml(text, origin);
    default: {
      const never: never = format;
      throw new EmperorError(ErrorCodes.CONFIG_PARSE, `unknown config format '${String(never)}'`, { file: origin });
    }
  }
}

/** Parses a config and picks its `[vassal]` section, else its `[uwsgi]` one. */
export function parseConfig(source: VassalConfigSource, origin: string): RawConfig {
  const text = checkText(source.text, origin);
  const kind = source.format === 'ini' ? 'section' : source.format === 'xml' ? 'root element' : 'top-level key';
  const wanted = `${sectionLabel(source.format, 'vassal')} ${kind} (or ${sectionLabel(source.format, 'uwsgi')} for a uWSGI instance)`;
  if (text.trim() === '') {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `the config is empty: expected a ${wanted}`, { file: origin });
  }
  const found = sections(text, source.format, origin);
  const section = found.names.includes('vassal') ? 'vassal' : found.names.includes('uwsgi') ? 'uwsgi' : undefined;
  if (section === undefined) {
    const seen = found.names.length === 0 ? 'none' : found.names.map((n) => sectionLabel(source.format, n)).join(', ');
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `expected a ${wanted}, found ${seen}`, { file: origin });
  }
  return deepFreeze({ section, entries: found.entries(section), format: source.format, origin });
}

function sourced(entries: readonly RawEntry[], raw: RawConfig, rank: Rank): SourcedEntry[] {
  return entries.map((e) => ({ ...e, origin: raw.origin, rank, format: raw.format }));
}

/** Loads, merges, expands and validates one vassal's config. */
export function loadVassalConfig(source: VassalConfigSource, opts: LoadOptions): LoadedConfig {
  const origin = opts.origin ?? source.path ?? opts.name;
  const raw = parseConfig(source, origin);
  const merged: SourcedEntry[] = [
    ...sourced(raw.entries, raw, Rank.own),
    ...(opts.includes ?? []).flatMap((inc) => sourced(inc.entries, inc, Rank.include)),
    ...(opts.sets ?? []).map(([key, value]): SourcedEntry => ({ key: key.trim(), value: value.trim(), origin: SET_ORIGIN, rank: Rank.set, format: 'set' })),
  ];
  const asVassal = raw.section === 'vassal' || merged.some((e) => e.key === 'command');

  if (!asVassal) {
    const expand = expander(merged, ['set-placeholder', 'set-ph'], (k) => k, source, opts);
    return deepFreeze({ kind: 'uwsgi', config: uwsgiConfig(raw, merged, (e) => expandEntry(e, expand)) });
  }

  const pluginKeys = new Set(opts.pluginKeys ?? []);
  // A --vassal-set of a name that is no key defines a placeholder, as uWSGI's --set does.
  const entries = canonicalKeys(
    merged.map((e) =>
      e.rank === Rank.set && keyDef(e.key) === undefined && !pluginKeys.has(e.key) ? { ...e, key: 'set-placeholder', value: `${e.key}=${e.value}` } : e,
    ),
    pluginKeys,
  );
  const expand = expander(entries, ['set-placeholder'], (k) => keyDef(k)?.name ?? k, source, opts);
  const expanded = entries.map((e) => expandEntry(e, expand));
  return deepFreeze({ kind: 'vassal', config: validateVassal(expanded, { origin, expand }) });
}

function expander(
  entries: readonly SourcedEntry[],
  placeholderKeys: readonly string[],
  canonical: (key: string) => string,
  source: VassalConfigSource,
  opts: LoadOptions,
): Expand {
  const groups = byKey(entries);
  const defined = new Map<string, SourcedEntry[]>();
  for (const key of placeholderKeys) {
    for (const e of groups.get(key) ?? []) {
      const [name, value] = readPlaceholderDef(e);
      const list = defined.get(name) ?? [];
      list.push({ ...e, value });
      defined.set(name, list);
    }
  }
  return createExpander({
    vars: fileVars({ name: opts.name, path: source.path, hostname: opts.hostname, cwd: opts.cwd ?? process.cwd() }),
    env: opts.env,
    computed: opts.computed ?? {},
    named: (name) => (effective(defined.get(name)) ?? effective(groups.get(canonical(name))))?.value,
  });
}

function expandEntry(entry: SourcedEntry, expand: Expand): ExpandedEntry {
  try {
    return { ...entry, written: entry.value, value: expand(entry.value) };
  } catch (err) {
    if (err instanceof PlaceholderError) throw invalid(entry, err.message, err);
    throw err;
  }
}
