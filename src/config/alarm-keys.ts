/**
 * The syntax of the alarm keys: `alarm = NAME ACTION:ARGS` defines an alarm, and every trigger
 * names alarms that must be defined. Whether ACTION exists is the alarm subsystem's question
 * (plugins add actions); everything that can be told from the text is checked here.
 */
import type { AlarmDef, LogAlarmRule } from './types.js';
import { expected, invalid, read, type SourcedEntry } from './entry.js';
import { regexProblem } from './regex.js';
import { shellSplit, ShellSplitError } from './shell-split.js';
import { closest } from './suggest.js';
import { shown } from './text.js';
import { readSize } from './values.js';

/** Alarm names are listed with commas and followed by `:MESSAGE` in alarm-eventfd. */
const ALARM_NAME = /^[A-Za-z0-9_.@-]+$/;
const ACTION = /^[A-Za-z][A-Za-z0-9_-]*$/;

export type AlarmTable = ReadonlyMap<string, AlarmDef>;

/** What a trigger check needs to know of the defined alarms: their names. */
export interface AlarmNames {
  has(name: string): boolean;
  keys(): IterableIterator<string>;
  readonly size: number;
}

/** Splits at the first run of blanks: `NAME rest of the line`. */
function head(value: string): [string, string] {
  const m = /[ \t]+/.exec(value);
  return m === null ? [value, ''] : [value.slice(0, m.index), value.slice(m.index + m[0].length)];
}

export function parseAlarm(entry: SourcedEntry): AlarmDef {
  const syntax = 'NAME ACTION:ARGS (e.g. alarm = mem log:memory is high)';
  const [name, rest] = head(entry.value);
  if (name === '' || rest === '') throw expected(entry, syntax);
  if (!ALARM_NAME.test(name)) throw expected(entry, syntax, `an alarm name is letters, digits and _ . @ -, not ${shown(name)}`);
  const colon = rest.indexOf(':');
  const action = colon === -1 ? rest : rest.slice(0, colon);
  if (colon === -1 || !ACTION.test(action)) throw expected(entry, syntax, `${shown(action)} is not ACTION:ARGS`);
  const def: AlarmDef = { name, action, args: rest.slice(colon + 1) };
  if (entry.line !== undefined) def.line = entry.line;
  return def;
}

export function alarmTable(entries: readonly SourcedEntry[]): Map<string, AlarmDef> {
  const table = new Map<string, AlarmDef>();
  const where = new Map<string, SourcedEntry>();
  for (const entry of entries) {
    const def = parseAlarm(entry);
    const first = where.get(def.name);
    if (first !== undefined) {
      const at = first.origin === entry.origin ? `line ${first.line ?? '?'}` : first.origin + (first.line === undefined ? '' : `:${first.line}`);
      throw invalid(entry, `alarm '${def.name}' is already defined (${at}); alarm names are unique`);
    }
    table.set(def.name, def);
    where.set(def.name, entry);
  }
  return table;
}

function requireAlarm(entry: SourcedEntry, name: string, alarms: AlarmNames): void {
  if (alarms.has(name)) return;
  const hint = closest(name, alarms.keys());
  const why =
    alarms.size === 0
      ? 'no alarm is defined (add alarm = NAME ACTION:ARGS)'
      : hint !== undefined
        ? `did you mean '${hint}'?`
        : `defined: ${[...alarms.keys()].join(', ')}`;
  throw invalid(entry, `unknown alarm '${name}' (${why})`);
}

/** `NAME[,NAME…]`, each defined. */
export function alarmNames(entry: SourcedEntry, text: string, alarms: AlarmNames): string[] {
  const names = text.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw expected(entry, 'alarm names separated by commas (e.g. mail,mem)', undefined, text);
  for (const n of names) requireAlarm(entry, n, alarms);
  return names;
}

/** `log-alarm = NAMES REGEX` (and its negation). */
export function parseLogAlarm(entry: SourcedEntry, negate: boolean, alarms: AlarmNames): LogAlarmRule {
  const [names, pattern] = head(entry.value);
  if (pattern === '') throw expected(entry, 'NAMES REGEX (e.g. log-alarm = mail,mem ^FATAL)');
  const rule: LogAlarmRule = { alarms: alarmNames(entry, names, alarms), pattern, negate };
  const problem = regexProblem(pattern);
  if (problem !== undefined) throw invalid(entry, `invalid regular expression ${shown(pattern)}: ${problem}`);
  if (entry.line !== undefined) rule.line = entry.line;
  return rule;
}

/** `alarm-eventfd = ALARM[:MESSAGE] CONTROL_FILE SUBJECT_FILE [EXTRA]`, kept as written. */
export function checkEventfd(entry: SourcedEntry, alarms: AlarmNames): string {
  const syntax = 'ALARM[:MESSAGE] CONTROL_FILE SUBJECT_FILE [ARGS] (e.g. mem %(cgroup)/cgroup.event_control %(cgroup)/memory.usage_in_bytes 100000000)';
  let words: string[];
  try {
    words = shellSplit(entry.value);
  } catch (err) {
    if (err instanceof ShellSplitError) throw expected(entry, syntax, err.message);
    throw err;
  }
  if (words.length < 3) throw expected(entry, syntax);
  const first = words[0]!;
  const colon = first.indexOf(':');
  requireAlarm(entry, colon === -1 ? first : first.slice(0, colon), alarms);
  return entry.value;
}

/** `alarm-memory = ALARM BYTES`. */
export function checkMemory(entry: SourcedEntry, alarms: AlarmNames): string {
  const words = entry.value.split(/[ \t]+/);
  if (words.length !== 2 || words[0] === '') throw expected(entry, 'ALARM BYTES (e.g. alarm-memory = mem 200M)');
  requireAlarm(entry, words[0]!, alarms);
  read(entry, readSize, words[1]);
  return entry.value;
}
