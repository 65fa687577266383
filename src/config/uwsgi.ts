/**
 * A `[uwsgi]` section without `command` is a real uWSGI instance: uWSGI reads and validates the
 * file itself. The emperor keeps only what it runs on the vassal's behalf (alarm-eventfd lines,
 * which stock uWSGI ignores, the alarms they name, and the cgroup they refer to), and expands
 * placeholders in those alone.
 */
import type { AlarmDef, RawConfig, UwsgiVassalConfig } from './types.js';
import { alarmTable, checkEventfd } from './alarm-keys.js';
import { effective, expected, type SourcedEntry } from './entry.js';
import { shellSplit } from './shell-split.js';

export function uwsgiConfig(raw: RawConfig, entries: readonly SourcedEntry[], expand: (e: SourcedEntry) => SourcedEntry): UwsgiVassalConfig {
  const alarmLines = entries.filter((e) => e.key === 'alarm');
  const nameOf = (e: SourcedEntry): string => e.value.split(/[ \t]/, 1)[0]!;
  const defined = new Set(alarmLines.map(nameOf));
  const eventfd = entries.filter((e) => e.key === 'alarm-eventfd').map((e) => checkEventfd(expand(e), defined));
  const wanted = new Set(eventfd.map((line) => shellSplit(line)[0]!.split(':')[0]!));
  // Only the alarms the emperor runs are read: the others are uWSGI's, in uWSGI's syntax.
  const alarms = alarmTable(alarmLines.filter((e) => wanted.has(nameOf(e))).map(expand));
  const config: UwsgiVassalConfig = { raw, alarmEventfd: eventfd, alarms: [...alarms.values()] as AlarmDef[] };
  const cgroup = effective(entries.filter((e) => e.key === 'cgroup'));
  if (cgroup !== undefined) {
    const value = expand(cgroup);
    if (value.value === '' || value.value.split('/').includes('..')) throw expected(value, "a cgroup name or path without '..'");
    config.cgroup = value.value;
  }
  return config;
}
