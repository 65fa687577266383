/**
 * Which parser reads a config. The extension decides, as in uWSGI (`.js` is JSON there); a file
 * under an extra extension (`--extra-extension .conf`) is sniffed from its first meaningful line.
 */
import type { ConfigFormat } from '../monitors/types.js';

const BY_EXTENSION: ReadonlyMap<string, ConfigFormat> = new Map<string, ConfigFormat>([
  ['.ini', 'ini'],
  ['.yml', 'yaml'],
  ['.yaml', 'yaml'],
  ['.json', 'json'],
  ['.js', 'json'],
  ['.xml', 'xml'],
]);

function normalized(ext: string): string {
  return ext.startsWith('.') ? ext : `.${ext}`;
}

/** The longest extension the name ends with, built-in or extra (so `.yaml` beats an extra `.aml`). */
function matchingExtension(fileName: string, extraExtensions: readonly string[]): string | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  let best: string | undefined;
  const consider = (ext: string): void => {
    // The extension alone (`.ini`) is a hidden file, not a vassal.
    if (ext.length > 1 && base.length > ext.length && base.endsWith(ext) && (best === undefined || ext.length > best.length)) best = ext;
  };
  for (const ext of BY_EXTENSION.keys()) consider(ext);
  for (const ext of extraExtensions) consider(normalized(ext.trim()));
  return best;
}

/**
 * The format a file name implies, or undefined when it implies none: an extra extension (sniff the
 * text with sniffFormat) or a name that is not a vassal config at all (see isConfigName).
 */
export function detectFormat(fileName: string, extraExtensions: readonly string[]): ConfigFormat | undefined {
  const ext = matchingExtension(fileName, extraExtensions);
  return ext === undefined ? undefined : BY_EXTENSION.get(ext);
}

/** True when the name ends in a built-in or an extra extension (given with or without its dot). */
export function isConfigName(fileName: string, extraExtensions: readonly string[]): boolean {
  return matchingExtension(fileName, extraExtensions) !== undefined;
}

/**
 * The format of a text whose name says nothing: `<` is XML, `{` JSON, `[section]`, `;` comments
 * and `key = value` lines ini; anything else YAML. Blank and `#` lines are skipped (both ini and
 * YAML use `#`). Parsing still decides: a wrong guess ends in that parser's error.
 */
export function sniffFormat(text: string): ConfigFormat {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#')) continue;
    const c = line[0];
    if (c === '<') return 'xml';
    if (c === '{') return 'json';
    if (c === '[' || c === ';') return 'ini';
    const eq = line.indexOf('=');
    const colon = line.indexOf(':');
    if (eq !== -1 && (colon === -1 || eq < colon)) return 'ini';
    return 'yaml';
  }
  return 'ini';
}
