/**
 * Text-level checks shared by every format: a config is UTF-8 text, and a file that is not
 * (a binary dropped into the vassal directory, a latin-1 file) must fail with its line, not crash
 * a parser or slip through as garbage values.
 */
import { EmperorError, ErrorCodes } from '../errors.js';

/** The 1-based line of a character offset. */
export function lineAt(text: string, index: number): number {
  let line = 1;
  let at = text.indexOf('\n');
  while (at !== -1 && at < index) {
    line++;
    at = text.indexOf('\n', at + 1);
  }
  return line;
}

/**
 * Strips a UTF-8 byte order mark and refuses text that is not text: NUL bytes, or U+FFFD, which is
 * what a decoder leaves where the bytes were not valid UTF-8.
 */
export function checkText(text: string, origin: string): string {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const nul = body.indexOf('\0');
  if (nul !== -1) {
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, 'expected a text config, got a NUL byte (is this a binary file?)', {
      file: origin,
      line: lineAt(body, nul),
    });
  }
  const bad = body.indexOf('\ufffd');
  if (bad !== -1) {
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, 'expected UTF-8 text, got bytes that are not valid UTF-8 (save the file as UTF-8)', {
      file: origin,
      line: lineAt(body, bad),
    });
  }
  return body;
}

/** A value shown in an error message: quoted, and cut when it is long enough to drown the message. */
export function shown(value: string, max = 120): string {
  const cut = value.length > max ? `${value.slice(0, max)}… (${value.length} characters)` : value;
  return `'${cut}'`;
}
