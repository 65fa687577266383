/**
 * The format of a config whose extension says nothing (`--extra-extension .conf`), guessed from
 * its first meaningful line. The loader still parses it and reports a clear error when the guess
 * and the text disagree.
 */
import type { ConfigFormat } from './types.js';

export function sniffFormat(text: string): ConfigFormat {
  const body = text.replace(/^\uFEFF/, '');
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith(';')) return 'ini';
    if (line.startsWith('<')) return 'xml';
    if (line.startsWith('{')) return 'json';
    // `[vassal]` is an ini section; a JSON array is never a vassal config.
    if (line.startsWith('[')) return 'ini';
    if (line === '---' || line.startsWith('--- ') || /^[\w.-]+:(\s|$)/.test(line)) return 'yaml';
    return 'ini';
  }
  return 'ini';
}
