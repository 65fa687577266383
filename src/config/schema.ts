/**
 * Validation of a `[vassal]` section into the typed VassalConfig. Every refusal names the file,
 * the line, the key, what was expected and what came.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { AlarmDef, CgroupOpt, ReadyProbe, ReloadMode, VassalConfig } from './types.js';
import { alarmNames, alarmTable, checkEventfd, checkMemory, parseLogAlarm, type AlarmTable } from './alarm-keys.js';
import { byKey, effective, expected, invalid, read, type SourcedEntry } from './entry.js';
import { keyDef, knownSpellings, VASSAL_KEYS, type KeyDef } from './keys.js';
import { PlaceholderError, type Expand } from './placeholders.js';
import { shellSplit, ShellSplitError } from './shell-split.js';
import { closest } from './suggest.js';
import { shown } from './text.js';
import { Expected, readBool, readHostPort, readInt, readMode, readSeconds, readSignal, readUrl } from './values.js';

export { VASSAL_KEYS, type KeyDef };

/** An entry after placeholders, remembering what was written for keys read word by word. */
export interface ExpandedEntry extends SourcedEntry {
  written: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;
const CGROUP_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const PLACEHOLDER_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Puts every key under its canonical name and refuses unknown ones, before anything else, so a
 * misspelt key is reported as such rather than as a side effect. Keys registered by plugins pass.
 */
export function canonicalKeys<E extends SourcedEntry>(entries: readonly E[], pluginKeys: ReadonlySet<string>): E[] {
  return entries.map((entry) => {
    const def = keyDef(entry.key);
    if (def !== undefined) return def.name === entry.key ? entry : { ...entry, key: def.name };
    if (pluginKeys.has(entry.key)) return entry;
    const hint = closest(entry.key, [...knownSpellings(), ...pluginKeys]);
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `unknown key '${entry.key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`, {
      file: entry.origin,
      line: entry.line,
      key: entry.key,
    });
  });
}

/**
 * A structured file (yaml, json) cannot repeat a key, so several values of a single-valued key
 * there come from a list: refuse it rather than silently keep the last item (`command: [node, a.js]`
 * would otherwise run `a.js`).
 */
function refuseLists(groups: ReadonlyMap<string, readonly SourcedEntry[]>): void {
  for (const [key, list] of groups) {
    if (list.length < 2 || keyDef(key)?.repeatable !== false) continue;
    const seen = new Set<string>();
    for (const e of list) {
      if (e.format !== 'yaml' && e.format !== 'json') continue;
      if (seen.has(e.origin)) {
        const count = list.filter((x) => x.origin === e.origin).length;
        throw invalid(e, `expected one value, got a list of ${count}${key === 'command' ? ' (write the command as one string)' : ''}`);
      }
      seen.add(e.origin);
    }
  }
}

/** The entries of a validated, canonical, expanded `[vassal]` section, as the typed config. */
export function validateVassal(entries: readonly ExpandedEntry[], ctx: { origin: string; expand: Expand }): VassalConfig {
  const groups = byKey(entries);
  refuseLists(groups);
  const one = (key: string): ExpandedEntry | undefined => effective(groups.get(key));
  const all = (key: string): readonly ExpandedEntry[] => groups.get(key) ?? [];
  const optional = <T>(key: string, reader: (value: string) => T): T | undefined => {
    const e = one(key);
    return e === undefined ? undefined : read(e, reader);
  };
  const withDefault = <T>(key: string, reader: (value: string) => T, fallback: T): T => optional(key, reader) ?? fallback;
  const text = (key: string, what: string): string | undefined => {
    const e = one(key);
    if (e !== undefined && e.value === '') throw expected(e, what);
    return e?.value;
  };

  const alarms: AlarmTable = alarmTable(all('alarm'));
  const names = (key: string): string[] => {
    const out: string[] = [];
    for (const e of all(key)) for (const n of alarmNames(e, e.value, alarms)) if (!out.includes(n)) out.push(n);
    return out;
  };

  const config: VassalConfig = {
    command: command(one('command'), ctx),
    processes: withDefault('processes', (v) => readInt(v, 1, 4096), 1),
    env: environment(all('env')),
    ready: withDefault('ready', readReady, { kind: 'alive', ms: 1000 }),
    readyTimeout: withDefault('ready-timeout', (v) => readSeconds(v, { positive: true }), 60),
    stopSignal: withDefault('stop-signal', readSignal, 'SIGTERM'),
    stopTimeout: withDefault('stop-timeout', (v) => readSeconds(v, { positive: false }), 10),
    reload: withDefault('reload', readReload, { mode: 'restart' }),

    alarms: [...alarms.values()] as AlarmDef[],
    logAlarms: entries
      .filter((e) => e.key === 'log-alarm' || e.key === 'not-log-alarm')
      .map((e) => parseLogAlarm(e, e.key === 'not-log-alarm', alarms)),
    alarmSegfault: names('alarm-segfault'),
    alarmBacklog: names('alarm-backlog'),
    alarmCrash: names('alarm-crash'),
    alarmFreq: withDefault('alarm-freq', (v) => readSeconds(v, { positive: false }), 3),
    alarmRate: withDefault('alarm-rate', (v) => readInt(v, 0, 1_000_000), 0),
    alarmMsgSize: withDefault('alarm-msg-size', (v) => readInt(v, 1, 1_048_576), 8192),
    alarmCheap: withDefault('alarm-cheap', readBool, false),
    alarmTimeout: withDefault('alarm-timeout', (v) => readSeconds(v, { positive: true }), 30),

    cgroupOpts: all('cgroup-opt').map(cgroupOpt),
    alarmEventfd: all('alarm-eventfd').map((e) => checkEventfd(e, alarms)),
    alarmMemory: all('alarm-memory').map((e) => checkMemory(e, alarms)),
    alarmOom: names('alarm-oom'),

    onDemandMode: withDefault('on-demand-mode', readMode, 0o660),

    entries: entries.map(({ key, value, line }) => (line === undefined ? { key, value } : { key, value, line })),
  };

  const assign = <K extends keyof VassalConfig>(field: K, value: VassalConfig[K] | undefined): void => {
    if (value !== undefined) config[field] = value;
  };
  assign('chdir', text('chdir', 'a directory'));
  assign('uid', optional('uid', (v) => identity(v, 'a user name or number')));
  assign('gid', optional('gid', (v) => identity(v, 'a group name or number')));
  assign('logto', text('logto', 'a file path'));
  assign('cgroup', optional('cgroup', readCgroup));
  assign('onDemand', optional('on-demand', readListenAddress));
  assign('idle', optional('idle', (v) => readSeconds(v, { positive: true })));
  assign('monitor', optional('monitor', (v) => (readHostPort(v, true), v)));
  assign('monitorOffset', optional('monitor-offset', (v) => readInt(v, 0, 65535)));
  assign('port', optional('port', (v) => readInt(v, 1, 65535)));
  assign('warmup', optional('warmup', (v) => readUrl(v, ['http:', 'https:'])));

  if (config.cgroup === undefined) {
    // These act on the vassal's cgroup; without one they would silently do nothing.
    for (const key of ['cgroup-opt', 'alarm-memory', 'alarm-oom']) {
      const e = all(key)[0];
      if (e !== undefined) throw invalid(e, 'needs a cgroup: add cgroup = NAME');
    }
  }
  for (const e of all('set-placeholder')) readPlaceholderDef(e);
  return config;
}

function command(entry: ExpandedEntry | undefined, ctx: { origin: string; expand: Expand }): string[] {
  if (entry === undefined) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, 'command: required: the program to run and its arguments (e.g. command = node server.js)', {
      file: ctx.origin,
      key: 'command',
    });
  }
  let words: string[];
  try {
    // Split what was written, then expand each word: a placeholder never adds words or quotes,
    // so %d with a space in it, or an env value with a quote, stays one intact argument.
    words = shellSplit(entry.written, { strict: true, placeholders: true });
  } catch (err) {
    if (err instanceof ShellSplitError) throw invalid(entry, err.message, err);
    throw err;
  }
  if (words.length === 0) throw expected(entry, 'a program and its arguments (e.g. node server.js)');
  let argv: string[];
  try {
    argv = words.map(ctx.expand);
  } catch (err) {
    if (err instanceof PlaceholderError) throw invalid(entry, err.message, err);
    throw err;
  }
  if (argv[0] === '') throw expected(entry, 'a program and its arguments', 'the program name is empty');
  return argv;
}

function environment(entries: readonly ExpandedEntry[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of entries) {
    const eq = e.value.indexOf('=');
    const name = eq === -1 ? '' : e.value.slice(0, eq);
    if (!ENV_NAME.test(name)) {
      throw expected(e, 'KEY=VALUE with KEY a variable name (letters, digits and _, not starting with a digit)');
    }
    env[name] = e.value.slice(eq + 1);
  }
  return env;
}

function identity(value: string, what: string): string {
  if (!ID.test(value)) throw new Expected(what);
  return value;
}

function readReady(value: string): ReadyProbe {
  const what = 'tcp:HOST:PORT, unix:PATH, http(s)://URL, file:PATH or alive[:MS]';
  if (value === 'alive') return { kind: 'alive', ms: 1000 };
  if (value.startsWith('alive:')) return { kind: 'alive', ms: readInt(value.slice(6), 0, 86_400_000) };
  if (value.startsWith('tcp:')) {
    const { host, port } = readHostPort(value.slice(4), false);
    return { kind: 'tcp', host, port };
  }
  if (value.startsWith('unix:') && value.length > 5) return { kind: 'unix', path: value.slice(5) };
  if (value.startsWith('file:') && value.length > 5) return { kind: 'file', path: value.slice(5) };
  if (value.startsWith('http://') || value.startsWith('https://')) return { kind: 'http', url: readUrl(value, ['http:', 'https:']) };
  throw new Expected(what);
}

function readReload(value: string): ReloadMode {
  if (value === 'restart' || value === 'rolling') return { mode: value };
  if (value.startsWith('signal:')) return { mode: 'signal', signal: readSignal(value.slice(7)) };
  throw new Expected('restart, rolling or signal:SIG');
}

function readCgroup(value: string): string {
  if (value === '' || value.split('/').includes('..')) throw new Expected("a cgroup name or path without '..'");
  return value;
}

/** A tcp `HOST:PORT` (`:PORT` for every interface), or a unix socket path (with a `/`, or `@abstract`). */
function readListenAddress(value: string): string {
  if (value.includes('/') || (value.startsWith('@') && value.length > 1)) return value;
  try {
    readHostPort(value, true);
  } catch {
    throw new Expected('HOST:PORT or a unix socket path');
  }
  return value;
}

function cgroupOpt(e: ExpandedEntry): CgroupOpt {
  const eq = e.value.indexOf('=');
  const file = eq === -1 ? '' : e.value.slice(0, eq);
  if (!CGROUP_FILE.test(file)) throw expected(e, 'FILE=VALUE with FILE a cgroup file name (e.g. memory.limit_in_bytes=268435456)');
  return { file, value: e.value.slice(eq + 1) };
}

/** `set-placeholder = NAME=VALUE`: the name is what %(NAME) can reach. */
export function readPlaceholderDef(e: Pick<SourcedEntry, 'key' | 'value' | 'origin' | 'line'>): [string, string] {
  const eq = e.value.indexOf('=');
  const name = eq === -1 ? '' : e.value.slice(0, eq).trim();
  if (!PLACEHOLDER_NAME.test(name)) {
    throw invalid(e, `expected NAME=VALUE with NAME letters, digits and _ . - (e.g. set-placeholder = app=shop), got ${shown(e.value)}`);
  }
  return [name, e.value.slice(eq + 1).trim()];
}
