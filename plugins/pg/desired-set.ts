/**
 * Turns the rows (or documents) of one successful read into the monitor's desired set, with the
 * uWSGI table semantics: a name appears once (the first row wins), `ts` only ever moves a vassal
 * forward (a smaller or equal ts keeps what was announced), and a bad row is reported by name and
 * skipped. A vassal already announced whose row turns bad stays in the set as it was, so it keeps
 * running until its row is fixed or deleted. A bad row is reported once, and again only when it
 * changes. This holds no connection: the pg and mongodb monitors share it.
 */
import { createHash } from 'node:crypto';
import { isConfigName } from '../../src/config/format.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { MAX_NAME_BYTES, formatOf } from '../../src/monitors/file-names.js';
import type { VassalSpec } from '../../src/monitors/types.js';

/** One row as the source gives it; the values are checked here, not by the reader. */
export interface SourceRow {
  /** 1-based position in the read, for messages about rows without a usable name. */
  position: number;
  name: unknown;
  config: unknown;
  ts: unknown;
  uid?: unknown;
  gid?: unknown;
  socket?: unknown;
}

export interface RowRules {
  /** The monitor id, carried by every spec as its source. */
  source: string;
  tyrant: boolean;
  extraExtensions: readonly string[];
  maxConfigBytes: number;
  /** What the source calls a row in messages: "row", "document". */
  noun: string;
}

export interface RowError {
  error: EmperorError;
  name?: string;
}

export interface DesiredState {
  specs: VassalSpec[];
  /** Only the errors not already reported by the previous read. */
  errors: RowError[];
}

const MAX_ID = 4_294_967_294;
const NUMBER = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** Why `name` cannot name a vassal, or undefined when it can. */
export function nameProblem(name: string, extraExtensions: readonly string[]): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  if (name.includes('/') || name.includes('\\')) return 'the name contains a path separator';
  if (name.includes('..')) return 'the name contains ".."';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'the name contains a control character';
  if (!isConfigName(name, extraExtensions)) {
    const extra = extraExtensions.length > 0 ? ` ${extraExtensions.join(' ')}` : '';
    return `the name has no config extension (expected .ini .yml .yaml .json .js .xml${extra})`;
  }
  return undefined;
}

/** A short, safe rendering of a bad value for a message. */
function show(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = JSON.stringify(v);
  else if (v instanceof Date) s = Number.isNaN(v.getTime()) ? 'an invalid date' : v.toISOString();
  else if (typeof v === 'bigint') s = v.toString();
  else if (v !== null && typeof v === 'object') s = `a ${v.constructor?.name ?? 'object'}`;
  else s = String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Seconds since the epoch from an epoch number, a numeric string, or a timestamp. */
function tsSeconds(v: unknown): number | string {
  if (v instanceof Date) {
    const ms = v.getTime();
    return Number.isNaN(ms) ? 'ts is an invalid date' : ms / 1000;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? v : `ts must be a finite number, got ${show(v)}`;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && NUMBER.test(v)) return Number(v);
  return `ts must be a timestamp or a number of seconds since the epoch, got ${show(v)}`;
}

/** A uid/gid: absent, a whole number, or the reason it is neither. */
function credential(field: 'uid' | 'gid', v: unknown): number | undefined | { problem: string } {
  if (v === null || v === undefined) return undefined;
  let n: number | undefined;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) n = Number(v);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > MAX_ID) {
    return { problem: `${field} must be a whole number from 0 to ${MAX_ID}, got ${show(v)}` };
  }
  return n;
}

/** A stable fingerprint of a row's content, so an unchanged bad row is reported only once. */
function fingerprint(row: SourceRow, reason: string): string {
  const h = createHash('sha1');
  h.update(reason);
  for (const v of [row.name, row.config, row.ts, row.uid, row.gid, row.socket]) {
    h.update('\u0000');
    if (v instanceof Date) h.update(`d${v.getTime()}`);
    else if (typeof v === 'string') h.update(`s${v}`);
    else h.update(`${typeof v}${String(v)}`);
  }
  return h.digest('base64');
}

type Checked = { spec: VassalSpec; ts: number } | { problem: string };

export class DesiredSet {
  private announced = new Map<string, { ts: number; spec: VassalSpec }>();
  private reported = new Set<string>();

  constructor(private readonly rules: RowRules) {}

  /** The desired set after one successful read of every row. */
  apply(rows: readonly SourceRow[]): DesiredState {
    const { noun } = this.rules;
    const next = new Map<string, { ts: number; spec: VassalSpec }>();
    const seen = new Set<string>();
    const reported = new Set<string>();
    const errors: RowError[] = [];

    const report = (row: SourceRow, reason: string, name?: string): void => {
      const key = fingerprint(row, reason);
      reported.add(key);
      if (this.reported.has(key)) return;
      const where = name === undefined ? `${noun} ${row.position}` : `${noun} ${JSON.stringify(name)}`;
      const error = new EmperorError(ErrorCodes.MONITOR_INPUT, `${where}: ${reason}; skipped`, {
        file: name ?? `${noun} ${row.position}`,
      });
      errors.push(name === undefined ? { error } : { error, name });
    };

    for (const row of rows) {
      if (row.name === null || row.name === undefined) {
        report(row, 'name is NULL');
        continue;
      }
      if (typeof row.name !== 'string') {
        report(row, `name must be text, got ${show(row.name)}`);
        continue;
      }
      const name = row.name;
      if (seen.has(name)) {
        report(row, `duplicate name ${JSON.stringify(name)}: the first ${noun} with this name wins`, name);
        continue;
      }
      seen.add(name);
      const bad = nameProblem(name, this.rules.extraExtensions);
      if (bad !== undefined) {
        report(row, bad, name);
        continue;
      }
      const checked = this.check(name, row);
      if ('problem' in checked) {
        report(row, checked.problem, name);
        // An announced vassal whose row turned bad keeps running as it was.
        const kept = this.announced.get(name);
        if (kept !== undefined) next.set(name, kept);
        continue;
      }
      const prev = this.announced.get(name);
      // Like uWSGI, only a greater ts changes a vassal: a row whose ts went back or stayed keeps
      // what was announced, config and all.
      next.set(name, prev !== undefined && checked.ts <= prev.ts ? prev : checked);
    }

    this.announced = next;
    this.reported = reported;
    return { specs: [...next.values()].map((e) => e.spec), errors };
  }

  private check(name: string, row: SourceRow): Checked {
    const { tyrant, maxConfigBytes, source } = this.rules;
    if (row.config === null || row.config === undefined) return { problem: 'config is NULL' };
    if (typeof row.config !== 'string') return { problem: `config must be text, got ${show(row.config)}` };
    const size = Buffer.byteLength(row.config);
    if (size > maxConfigBytes) return { problem: `config is ${size} bytes, above the limit of ${maxConfigBytes}` };
    if (row.ts === null || row.ts === undefined) return { problem: 'ts is NULL' };
    const ts = tsSeconds(row.ts);
    if (typeof ts === 'string') return { problem: ts };
    const uid = credential('uid', row.uid);
    if (typeof uid === 'object') return uid;
    const gid = credential('gid', row.gid);
    if (typeof gid === 'object') return gid;
    if (tyrant) {
      if (uid === undefined || gid === undefined) return { problem: 'missing uid and gid (required in tyrant mode)' };
      if (uid === 0 || gid === 0) return { problem: `uid ${uid} gid ${gid}: root is refused in tyrant mode` };
    }
    let socket: string | undefined;
    if (typeof row.socket === 'string') socket = row.socket === '' ? undefined : row.socket;
    else if (row.socket !== null && row.socket !== undefined) {
      return { problem: `socket must be text, got ${show(row.socket)}` };
    }
    const spec: VassalSpec = {
      name,
      source,
      // The extension decides; under an extra extension the text is sniffed, as for files.
      config: { text: row.config, format: formatOf(name, this.rules.extraExtensions, row.config) },
      revision: String(ts),
      pushed: true,
    };
    if (uid !== undefined) spec.uid = uid;
    if (gid !== undefined) spec.gid = gid;
    if (socket !== undefined) spec.socket = socket;
    return { spec, ts };
  }
}
