/**
 * The filter of a mongodb:// monitor, written as in uWSGI (`{enabled:1}`): relaxed JSON (JSON5:
 * unquoted keys, single quotes, trailing commas), never evaluated as code. MongoDB Extended JSON
 * values are understood (`{ts: {$gt: {$date: '2024-01-01T00:00:00Z'}}}`). `%h` in a string value
 * becomes this host's node name, and `%%` a literal `%`.
 */
import JSON5 from 'json5';
import { BSON, type Document } from 'mongodb';
import { EmperorError, ErrorCodes } from '../../src/errors.js';

function substitute(value: unknown, nodeName: string): unknown {
  if (typeof value === 'string') return value.replace(/%h|%%/g, (m) => (m === '%%' ? '%' : nodeName));
  if (Array.isArray(value)) return value.map((v) => substitute(v, nodeName));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, nodeName);
    return out;
  }
  return value;
}

export function parseFilter(text: string, nodeName: string, option = 'mongodb://'): Document {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch (err) {
    throw new EmperorError(ErrorCodes.USAGE, `${option}: the filter is not valid relaxed JSON (${(err as Error).message}): ${text}`, { key: 'filter', cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EmperorError(ErrorCodes.USAGE, `${option}: the filter must be an object such as {enabled: 1}, got ${text}`, { key: 'filter' });
  }
  try {
    return BSON.EJSON.deserialize(substitute(parsed, nodeName) as Document, { relaxed: true }) as Document;
  } catch (err) {
    throw new EmperorError(ErrorCodes.USAGE, `${option}: bad Extended JSON value in the filter (${(err as Error).message}): ${text}`, { key: 'filter', cause: err });
  }
}
