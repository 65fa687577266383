/**
 * Readers for the value types of vassal keys. Each returns the typed value or throws Expected with
 * what it wanted; the schema adds the key, the file and the line.
 */
import { constants } from 'node:os';

export class Expected extends Error {
  constructor(
    /** What a good value looks like: "an integer from 1 to 4096". */
    readonly expected: string,
    /** Optional extra words after "got '…'": why this value is not it. */
    readonly detail?: string,
  ) {
    super(`expected ${expected}`);
    this.name = 'Expected';
  }
}

const DIGITS = /^[0-9]+$/;
const DECIMAL = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;

export function readInt(value: string, min: number, max: number): number {
  const expected = `an integer from ${min} to ${max}`;
  if (!DIGITS.test(value)) throw new Expected(expected);
  const n = Number(value);
  if (n < min || n > max) throw new Expected(expected);
  return n;
}

/** Seconds as a plain decimal number (`10`, `0.5`); `min` is inclusive unless `positive`. */
export function readSeconds(value: string, opts: { positive: boolean; max?: number }): number {
  const max = opts.max ?? 31_536_000;
  const expected = `${opts.positive ? 'a positive' : 'a'} number of seconds (e.g. 10 or 0.5, at most ${max})`;
  if (!DECIMAL.test(value)) throw new Expected(expected);
  const n = Number(value);
  if ((opts.positive && n <= 0) || n > max) throw new Expected(expected);
  return n;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function readBool(value: string): boolean {
  const v = value.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new Expected('true or false (also yes/no, on/off, 1/0)');
}

/** `TERM`, `SIGTERM`, `term` or `15`. */
export function readSignal(value: string): NodeJS.Signals {
  const expected = 'a signal name (TERM, SIGTERM) or number (15)';
  const signals = constants.signals as Readonly<Record<string, number>>;
  if (DIGITS.test(value)) {
    const n = Number(value);
    for (const [name, num] of Object.entries(signals)) if (num === n) return name as NodeJS.Signals;
    throw new Expected(expected, 'no such signal number');
  }
  const upper = value.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (Object.hasOwn(signals, name)) return name as NodeJS.Signals;
  throw new Expected(expected);
}

/** A file mode in octal: `0660`, `660` or `0o660`. */
export function readMode(value: string): number {
  const expected = 'an octal file mode (e.g. 0660)';
  const digits = value.startsWith('0o') || value.startsWith('0O') ? value.slice(2) : value;
  if (!/^[0-7]{1,4}$/.test(digits)) throw new Expected(expected);
  const n = parseInt(digits, 8);
  if (n > 0o777) throw new Expected(expected, 'only permission bits (at most 0777)');
  return n;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Bytes with an optional binary suffix: `104857600`, `100M`, `1G` (K = 1024). */
export function readSize(value: string): number {
  const m = /^([0-9]+)([KMG]?)B?$/i.exec(value);
  if (m === null) throw new Expected('a size in bytes, with an optional K, M or G suffix (e.g. 100M)');
  const n = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(n)) throw new Expected('a size in bytes, with an optional K, M or G suffix (e.g. 100M)', 'too large');
  return n;
}

export interface HostPort {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[v6]:PORT`, or `:PORT` when `hostOptional` (every interface). */
export function readHostPort(value: string, hostOptional: boolean): HostPort {
  const expected = hostOptional ? 'HOST:PORT or :PORT' : 'HOST:PORT';
  const colon = value.lastIndexOf(':');
  if (colon === -1) throw new Expected(expected);
  let host = value.slice(0, colon);
  const portText = value.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) throw new Expected(expected, 'write an IPv6 address in brackets: [::1]:PORT');
  if ((host === '' && !hostOptional) || /[\s/]/.test(host)) throw new Expected(expected);
  if (!DIGITS.test(portText)) throw new Expected(expected);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new Expected(expected, 'the port must be from 1 to 65535');
  return { host, port };
}

export function readUrl(value: string, protocols: readonly string[]): string {
  const expected = `a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Expected(expected);
  }
  if (!protocols.includes(url.protocol) || url.host === '') throw new Expected(expected);
  return value;
}
