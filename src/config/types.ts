/**
 * The typed, frozen result of loading a vassal config. Everything downstream (core, alarms,
 * isolation, ops) reads these fields and nothing else of the config text.
 */
import type { ConfigFormat } from '../monitors/types.js';

/** One `key = value` as written, before validation; repeated keys are repeated entries, in order. */
export interface RawEntry {
  key: string;
  value: string;
  /** 1-based line in the source, where the format has lines we can recover. */
  line?: number;
}

export interface RawConfig {
  /** `vassal` for our native section, `uwsgi` for a uWSGI instance config. */
  section: 'vassal' | 'uwsgi';
  entries: RawEntry[];
  format: ConfigFormat;
  /** The file (or `source:name`) shown in error messages. */
  origin: string;
}

export type ReadyProbe =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'http'; url: string }
  | { kind: 'file'; path: string }
  /** No probe: ready once every worker has stayed alive this long. */
  | { kind: 'alive'; ms: number };

export type ReloadMode =
  | { mode: 'restart' }
  | { mode: 'rolling' }
  | { mode: 'signal'; signal: NodeJS.Signals };

export interface AlarmDef {
  name: string;
  /** The action prefix, e.g. `log`, `cmd`, `signal`, `curl`, `xmpp`. */
  action: string;
  /** Everything after `prefix:`. */
  args: string;
  line?: number;
}

export interface LogAlarmRule {
  alarms: readonly string[];
  /** The regex source, as written (RE2 syntax). */
  pattern: string;
  /** `not-log-alarm`: a match stops evaluation of the later rules for that line. */
  negate: boolean;
  line?: number;
}

export interface CgroupOpt {
  file: string;
  value: string;
}

export interface VassalConfig {
  /** argv, split as a shell would, run without a shell. */
  command: readonly string[];
  processes: number;
  chdir?: string;
  env: Readonly<Record<string, string>>;
  /** Outside tyrant mode, with a root emperor: run workers as this user/group (name or number). */
  uid?: string;
  gid?: string;
  ready: ReadyProbe;
  /** Seconds a start may take to become ready before it counts as failed. */
  readyTimeout: number;
  stopSignal: NodeJS.Signals;
  /** Seconds between the stop signal and SIGKILL of the process group (and cgroup). */
  stopTimeout: number;
  reload: ReloadMode;
  /** Worker output goes to this file instead of the emperor's output. */
  logto?: string;

  // alarm subsystem
  alarms: readonly AlarmDef[];
  logAlarms: readonly LogAlarmRule[];
  alarmSegfault: readonly string[];
  alarmBacklog: readonly string[];
  alarmCrash: readonly string[];
  /** Seconds within which the same message of the same alarm fires once. */
  alarmFreq: number;
  /** At most this many firings of one alarm per minute (0 = no cap). */
  alarmRate: number;
  alarmMsgSize: number;
  alarmCheap: boolean;
  /** Seconds an action may run before it is abandoned. */
  alarmTimeout: number;

  // isolation
  cgroup?: string;
  cgroupOpts: readonly CgroupOpt[];
  alarmEventfd: readonly string[];
  alarmMemory: readonly string[];
  alarmOom: readonly string[];

  // operations
  onDemand?: string;
  /** Mode of an on-demand unix socket. */
  onDemandMode: number;
  /** Seconds without connections before an on-demand vassal goes back to waiting. */
  idle?: number;
  monitor?: string;
  monitorOffset?: number;
  port?: number;
  warmup?: string;

  /** Every entry after includes, sets and placeholders, for keys plugins read themselves. */
  entries: readonly RawEntry[];
}

/** A `[uwsgi]` config: uWSGI reads the file itself; we keep only what the emperor acts on. */
export interface UwsgiVassalConfig {
  raw: RawConfig;
  /** `alarm-eventfd` lines, which stock uWSGI ignores and the emperor runs. */
  alarmEventfd: readonly string[];
  /** `alarm` definitions of the section, for the alarms alarm-eventfd names. */
  alarms: readonly AlarmDef[];
  cgroup?: string;
}

export type LoadedConfig =
  | { kind: 'vassal'; config: VassalConfig }
  | { kind: 'uwsgi'; config: UwsgiVassalConfig };
