/**
 * Which file names are vassal configs, and in which format. Shared by the dir and glob monitors so
 * both accept exactly the same files; the extension rules themselves are the config loader's.
 */
import { detectFormat, isConfigName, sniffFormat } from '../config/format.js';
import type { ConfigFormat } from './types.js';

/** uWSGI keeps vassal names in a 255-byte buffer; longer names are not vassals there either. */
export const MAX_NAME_BYTES = 254;

/**
 * True when a file name (no directory) could be a vassal config by its shape alone. Hidden names
 * and editor droppings are refused even under an extra extension: `.app.ini.swp`, `.#app.ini`,
 * `#app.ini#`, `app.ini~`, vim's `4913`, atomic-save temps like `.app.ini.XXXX` or `app.ini.tmp123`.
 */
export function isConfigFileName(name: string, extraExtensions: readonly string[]): boolean {
  if (name === '' || name.startsWith('.') || name.startsWith('#') || name.endsWith('~')) return false;
  return isConfigName(name, extraExtensions);
}

/** By extension; a file under an extra extension is sniffed from its text. */
export function formatOf(name: string, extraExtensions: readonly string[], text: string): ConfigFormat {
  return detectFormat(name, extraExtensions) ?? sniffFormat(text);
}

export function nameTooLong(name: string): boolean {
  return Buffer.byteLength(name) > MAX_NAME_BYTES;
}
