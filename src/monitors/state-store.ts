/**
 * The durable fleet of a message-fed monitor (amqp, zmq). A broker or socket only says what
 * changed, so an emperor that restarts would forget every vassal it was told about; this store
 * keeps each vassal's last config on disk and gives them back at start-up.
 *
 * Layout: `<stateDir>/monitor-<sha256(monitor id)[0..24]>/`, holding `monitor-id` (the id, for
 * people reading the directory) and one `<sha256(name)[0..32]>.json` per vassal. Hashed file
 * names keep any vassal name (length, case, odd bytes) off the filesystem's rules; the record
 * itself carries the name.
 *
 * Writes are write-temp + fsync + rename + fsync(dir): a reader (or the next start after a crash
 * or SIGKILL) sees the old record or the new one, never a torn one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isConfigName } from '../config/format.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import { MAX_NAME_BYTES } from './file-names.js';
import type { ConfigFormat, MonitorEvent, VassalSpec } from './types.js';

/** One restored vassal: its last announced spec and when it was saved. */
export interface StoredVassal {
  spec: VassalSpec;
  savedAt: Date;
}

export interface StoreLoad {
  records: StoredVassal[];
  /** One per record that could not be restored (unreadable, not JSON, wrong shape); those are skipped. */
  errors: EmperorError[];
}

const RECORD_VERSION = 1;
const RECORD_SUFFIX = '.json';
const TEMP_SUFFIX = '.tmp';
const ID_FILE = 'monitor-id';
const FORMATS: readonly ConfigFormat[] = ['ini', 'yaml', 'json', 'xml'];

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Refuses a vassal name that could not be a bare file name: names that arrive in messages reach
 * the filesystem (the emperor's working directory for zmq, this store's records).
 */
export function assertSafeVassalName(name: string): void {
  const bad = (why: string): EmperorError =>
    new EmperorError(ErrorCodes.MONITOR_INPUT, `vassal name ${JSON.stringify(name)} ${why}`, { file: name });
  if (name.length === 0) throw bad('is empty: expected a file name such as app.ini');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw bad(`is longer than ${MAX_NAME_BYTES} bytes`);
  if (name.includes('..')) throw bad('contains "..": expected a bare file name');
  if (name.includes('/')) throw bad('contains "/": expected a bare file name');
  if (name.startsWith('.')) throw bad('starts with ".": expected a name before the extension');
  if (/[\u0000-\u001f\u007f]/.test(name)) throw bad('contains a control character');
}

/**
 * Checks a vassal name that arrived in a message (routing key, zmq part, URL segment, file name):
 * safe as a bare file name, and ending in a config extension (built-in or `--extra-extension`).
 * The format itself is the loader's rule: see formatOf in file-names.ts.
 */
export function checkMessageVassalName(name: string, extraExtensions: readonly string[]): void {
  assertSafeVassalName(name);
  if (isConfigName(name, extraExtensions)) return;
  const accepted = ['.ini', '.yml', '.yaml', '.json', '.js', '.xml', ...extraExtensions].join(' ');
  throw new EmperorError(ErrorCodes.MONITOR_INPUT, `vassal name ${JSON.stringify(name)} has no valid config extension: expected one of ${accepted}`, { file: name });
}

export class StateStore {
  /** The directory holding this monitor's records. */
  readonly dir: string;
  private readonly monitorId: string;
  private ready: Promise<void> | undefined;

  constructor(stateDir: string, monitorId: string) {
    if (stateDir === '') {
      throw new EmperorError(ErrorCodes.USAGE, 'state directory is empty: expected a path (--state-dir)', { key: 'state-dir' });
    }
    this.monitorId = monitorId;
    this.dir = join(stateDir, `monitor-${sha256(monitorId).slice(0, 24)}`);
  }

  /** The file that holds `name`'s record. */
  fileOf(name: string): string {
    return join(this.dir, `${sha256(name).slice(0, 32)}${RECORD_SUFFIX}`);
  }

  /**
   * Every stored vassal. Never rejects: a missing directory is an empty fleet, and a record that
   * cannot be restored (or a directory that cannot be listed) is returned in `errors`.
   */
  async load(): Promise<StoreLoad> {
    const records: StoredVassal[] = [];
    const errors: EmperorError[] = [];
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return { records, errors };
      errors.push(new EmperorError(ErrorCodes.MONITOR, `cannot list the state directory: ${messageOf(err)}`, { file: this.dir, cause: err }));
      return { records, errors };
    }
    for (const entry of entries.sort()) {
      const file = join(this.dir, entry);
      if (entry.endsWith(TEMP_SUFFIX)) {
        // A write interrupted before its rename: the record it meant to replace is intact. This
        // process's own temp files are writes still under way.
        if (tempWriter(entry) !== process.pid) await unlink(file).catch(() => undefined);
        continue;
      }
      if (!entry.endsWith(RECORD_SUFFIX)) continue;
      try {
        const stored = parseRecord(await readFile(file, 'utf8'), this.monitorId);
        if (this.fileOf(stored.spec.name) !== file) {
          throw new Error(`holds vassal ${JSON.stringify(stored.spec.name)}, whose record belongs in ${this.fileOf(stored.spec.name)}`);
        }
        records.push(stored);
      } catch (err) {
        errors.push(new EmperorError(ErrorCodes.MONITOR, `skipped a stored vassal that cannot be restored: ${messageOf(err)}`, { file, cause: err }));
      }
    }
    return { records, errors };
  }

  /** The events that bring the stored fleet back at start-up: an error per unusable record, then an upsert per vassal. */
  async restore(): Promise<MonitorEvent[]> {
    const { records, errors } = await this.load();
    return [
      ...errors.map((error): MonitorEvent => ({ type: 'error', error })),
      ...records.map((r): MonitorEvent => ({ type: 'upsert', spec: r.spec })),
    ];
  }

  /** Saves `spec` as its vassal's last config, durably, replacing the previous record. */
  async put(spec: VassalSpec): Promise<void> {
    assertSafeVassalName(spec.name);
    await this.ensureDir();
    const record = { version: RECORD_VERSION, monitor: this.monitorId, savedAt: new Date().toISOString(), spec: { ...spec, source: this.monitorId } };
    await writeAtomic(this.dir, this.fileOf(spec.name), JSON.stringify(record));
  }

  /** Forgets `name`. Forgetting an unknown vassal is not an error. */
  async delete(name: string): Promise<void> {
    try {
      await unlink(this.fileOf(name));
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
      throw err;
    }
    await syncDir(this.dir);
  }

  /**
   * Records what an event announces (an upsert is saved, a remove forgotten; errors change
   * nothing). Never rejects: a failed write comes back as an error to report, and the event
   * still stands.
   */
  async apply(event: MonitorEvent): Promise<EmperorError | undefined> {
    try {
      if (event.type === 'upsert') await this.put(event.spec);
      else if (event.type === 'remove') await this.delete(event.name);
      return undefined;
    } catch (err) {
      if (event.type === 'remove') {
        return new EmperorError(ErrorCodes.MONITOR, `cannot forget vassal ${JSON.stringify(event.name)} in the state directory: ${messageOf(err)}; it would come back after an emperor restart`, { file: this.dir, cause: err });
      }
      const name = event.type === 'upsert' ? event.spec.name : '';
      return new EmperorError(ErrorCodes.MONITOR, `cannot save vassal ${JSON.stringify(name)} in the state directory: ${messageOf(err)}; an emperor restart would bring back its previous config`, { file: this.dir, cause: err });
    }
  }

  private ensureDir(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeAtomic(this.dir, join(this.dir, ID_FILE), `${this.monitorId}\n`);
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }
}

/** The pid in a temp file's name (see writeAtomic). */
function tempWriter(entry: string): number | undefined {
  const m = /\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(entry);
  return m ? Number(m[1]) : undefined;
}

async function writeAtomic(dir: string, file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
}

/** Makes a rename or unlink in `dir` survive a power loss. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function parseRecord(text: string, monitorId: string): StoredVassal {
  const data: unknown = JSON.parse(text);
  if (!isObject(data)) throw new Error('expected a JSON object');
  if (data.version !== RECORD_VERSION) throw new Error(`record version is ${JSON.stringify(data.version)}, expected ${RECORD_VERSION}`);
  const savedAt = typeof data.savedAt === 'string' ? new Date(data.savedAt) : undefined;
  if (savedAt === undefined || Number.isNaN(savedAt.getTime())) throw new Error('savedAt is not an ISO date');
  const s = data.spec;
  if (!isObject(s)) throw new Error('spec is missing');
  if (typeof s.name !== 'string') throw new Error('spec.name is not a string');
  assertSafeVassalName(s.name);
  if (typeof s.revision !== 'string') throw new Error('spec.revision is not a string');
  const c = s.config;
  if (!isObject(c) || typeof c.text !== 'string') throw new Error('spec.config.text is not a string');
  if (!FORMATS.includes(c.format as ConfigFormat)) throw new Error(`spec.config.format is ${JSON.stringify(c.format)}, expected one of ${FORMATS.join(', ')}`);
  if (c.path !== undefined && typeof c.path !== 'string') throw new Error('spec.config.path is not a string');
  for (const k of ['uid', 'gid'] as const) {
    const v = s[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)) throw new Error(`spec.${k} is not a non-negative integer`);
  }
  if (s.socket !== undefined && typeof s.socket !== 'string') throw new Error('spec.socket is not a string');
  if (s.pushed !== undefined && typeof s.pushed !== 'boolean') throw new Error('spec.pushed is not a boolean');

  const spec: VassalSpec = {
    name: s.name,
    source: monitorId,
    config: { text: c.text, format: c.format as ConfigFormat, ...(typeof c.path === 'string' ? { path: c.path } : {}) },
    revision: s.revision,
  };
  if (typeof s.uid === 'number') spec.uid = s.uid;
  if (typeof s.gid === 'number') spec.gid = s.gid;
  if (typeof s.socket === 'string') spec.socket = s.socket;
  if (typeof s.pushed === 'boolean') spec.pushed = s.pushed;
  return { spec, savedAt };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
