/**
 * What the emperor runs of a uWSGI vassal, as the VassalConfig the rest of the emperor reads: the
 * uwsgi command line, one worker (the uWSGI master), the curse tolerance as its stop timeout, and
 * for its alarm subsystem only the alarm-eventfd lines (which stock uWSGI lacks) and the alarms
 * they name. Every other key is uWSGI's: its alarm, log-alarm and the rest run inside uWSGI and
 * never here, and uWSGI ignores alarm-eventfd, so no alarm fires twice.
 */
import type { UwsgiVassalConfig, VassalConfig } from '../config/types.js';
import { Rank } from '../config/entry.js';
import { validateVassal, type ExpandedEntry } from '../config/schema.js';

export interface UwsgiConfigOptions {
  argv: readonly string[];
  curseToleranceS: number;
  origin: string;
  /**
   * The emperor manages cgroups: it creates the cgroup the uWSGI config names before the instance
   * starts (so alarm-eventfd can watch it from the first start), the instance joins it before
   * uWSGI runs, and it is emptied and removed after the instance stopped. uWSGI, joining the
   * existing cgroup itself, sees no difference.
   */
  manageCgroup: boolean;
}

export function uwsgiVassalConfig(config: UwsgiVassalConfig, o: UwsgiConfigOptions): VassalConfig {
  const { origin } = o;
  const entry = (key: string, value: string, line?: number): ExpandedEntry => ({
    key,
    value,
    written: value,
    origin,
    rank: Rank.own,
    format: config.raw.format,
    ...(line === undefined ? {} : { line }),
  });
  const alarmEntries = [
    ...config.alarms.map((a) => entry('alarm', `${a.name} ${a.action}:${a.args}`, a.line)),
    ...config.alarmEventfd.map((v) => entry('alarm-eventfd', v, lineOf(config, v))),
  ];
  // Through the validator, so every other field has the default a [vassal] section would get.
  const base = validateVassal([entry('command', 'uwsgi'), entry('stop-timeout', String(o.curseToleranceS)), ...alarmEntries], { origin, expand: (s) => s });
  return {
    ...base,
    command: [...o.argv],
    ...(o.manageCgroup && config.cgroup !== undefined ? { cgroup: config.cgroup } : {}),
    entries: base.entries.filter((e) => e.key === 'alarm' || e.key === 'alarm-eventfd'),
  };
}

function lineOf(config: UwsgiVassalConfig, value: string): number | undefined {
  return config.raw.entries.find((e) => e.key === 'alarm-eventfd' && e.value === value)?.line;
}
