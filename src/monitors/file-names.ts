/**
 * Which file names are vassal configs, and in which format. Shared by the dir and glob monitors so
 * both accept exactly the same files.
 */
import { basename } from 'node:path';
import type { ConfigFormat } from './types.js';

/** The extensions uWSGI accepts; `.js` is json there too. */
const BUILTIN: ReadonlyMap<string, ConfigFormat> = new Map<string, ConfigFormat>([
  ['.ini', 'ini'],
  ['.yml', 'yaml'],
  ['.yaml', 'yaml'],
  ['.json', 'json'],
  ['.js', 'json'],
  ['.xml', 'xml'],
]);

/** uWSGI keeps vassal names in a 255-byte buffer; longer names are not vassals there either. */
export const MAX_NAME_BYTES = 254;

export interface NameRules {
  /** `.conf` style, each with its leading dot. */
  readonly extra: readonly string[];
}

export function nameRules(extraExtensions: readonly string[]): NameRules {
  const extra = extraExtensions
    .map((e) => e.trim())
    .filter((e) => e !== '' && e !== '.')
    .map((e) => (e.startsWith('.') ? e : `.${e}`));
  return { extra };
}

/**
 * True when a file name (no directory) could be a vassal config by its shape alone. Hidden names
 * and editor droppings are refused even under an extra extension: `.app.ini.swp`, `.#app.ini`,
 * `#app.ini#`, `app.ini~`, vim's `4913`, atomic-save temps like `.app.ini.XXXX` or `app.ini.tmp123`.
 */
export function isConfigFileName(name: string, rules: NameRules): boolean {
  if (name === '' || name.startsWith('.') || name.startsWith('#') || name.endsWith('~')) return false;
  return extensionOf(name, rules) !== undefined;
}

/** The accepted extension a name ends with (the longest, so `.yaml` wins over an extra `.aml`). */
export function extensionOf(name: string, rules: NameRules): string | undefined {
  let best: string | undefined;
  for (const ext of [...BUILTIN.keys(), ...rules.extra]) {
    // The extension alone (`.ini`) is a hidden file, not a vassal.
    if (name.length > ext.length && name.endsWith(ext) && (best === undefined || ext.length > best.length)) best = ext;
  }
  return best;
}

/** The format a built-in extension implies, or undefined for an extra extension (sniff the text). */
export function formatOfName(path: string, rules: NameRules): ConfigFormat | undefined {
  const ext = extensionOf(basename(path), rules);
  return ext === undefined ? undefined : BUILTIN.get(ext);
}

export function nameTooLong(name: string): boolean {
  return Buffer.byteLength(name) > MAX_NAME_BYTES;
}
