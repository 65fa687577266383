/**
 * A config as the emperor pushes it over the config pipe: a 4-byte uwsgi packet header
 * {modifier1 = 115, pktsize u16 little-endian, modifier2 = 0}, then the config bytes.
 */
import { CONFIG_MODIFIER1, MAX_PUSHED_CONFIG_BYTES } from './protocol.js';

export class ConfigTooLarge extends Error {
  constructor(readonly bytes: number) {
    super(`a pushed config holds at most ${MAX_PUSHED_CONFIG_BYTES} bytes (uWSGI reads a 16-bit size), got ${bytes}`);
    this.name = 'ConfigTooLarge';
  }
}

export function configPacket(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  // uWSGI exits on an empty config ("invalid config"), and an oversized one would be cut.
  if (body.length === 0) throw new RangeError('a pushed config cannot be empty');
  if (body.length > MAX_PUSHED_CONFIG_BYTES) throw new ConfigTooLarge(body.length);
  const header = Buffer.alloc(4);
  header.writeUInt8(CONFIG_MODIFIER1, 0);
  header.writeUInt16LE(body.length, 1);
  header.writeUInt8(0, 3);
  return Buffer.concat([header, body]);
}

/** Whether a config fits in one packet. */
export function fitsPacket(text: string): boolean {
  const n = Buffer.byteLength(text, 'utf8');
  return n > 0 && n <= MAX_PUSHED_CONFIG_BYTES;
}
