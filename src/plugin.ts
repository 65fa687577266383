/**
 * What a plugin exports. The core maps monitor schemes, alarm action prefixes and trigger options
 * to plugins in one table (src/plugin-table.ts) and imports a plugin on first use, so a user
 * without PostgreSQL never loads `pg`. A user's own plugin loads with `--plugin <module>` and
 * exports the same descriptor as its default export.
 */
import type { Logger } from './log/logger.js';
import type { MonitorFactory } from './monitors/types.js';

/** One firing of an alarm, as its action receives it. */
export interface AlarmFiring {
  /** The alarm's name (`alarm = NAME action:args`). */
  alarm: string;
  /** The vassal it belongs to. */
  vassal: string;
  /** The message: the log line, the crash report, the eventfd message. Already size-capped. */
  message: string;
}

/** What an action may use of the vassal it serves. */
export interface AlarmActionHost {
  vassal: string;
  log: Logger;
  /** Sends a signal to every worker process group of the vassal. */
  signalWorkers(signal: NodeJS.Signals | number): void;
  /** Credentials the vassal runs with; actions that run programs run them with these. */
  credentials?: { uid: number; gid: number };
  /** The vassal's working directory and environment, for cmd: actions. */
  cwd?: string;
  env?: Record<string, string>;
}

export interface AlarmAction {
  /** Runs once. Must settle within `timeoutMs` or when `signal` aborts; rejects on failure. */
  run(firing: AlarmFiring, opts: { signal: AbortSignal; timeoutMs: number }): Promise<void>;
  /** Releases connections (an XMPP session, an SMTP pool). Idempotent. */
  close?(): Promise<void>;
}

/**
 * Builds an action from the text after `prefix:` in `alarm = NAME prefix:ARGS`. Throws an
 * EmperorError (CONFIG_INVALID) naming what is wrong with ARGS.
 */
export type AlarmActionFactory = (args: string, host: AlarmActionHost) => AlarmAction;

/** What a trigger sees of its vassal. */
export interface TriggerHost {
  vassal: string;
  log: Logger;
  /** Raises the named alarms with a message. */
  raise(alarms: readonly string[], message: string): void;
  /** The vassal's cgroup path, when it has one. */
  cgroupPath?: string;
  /** Calls back with each worker output line; returns an unsubscribe function. */
  onLine(fn: (line: string, pid: number) => void): () => void;
  /** Calls back when a worker exits. */
  onExit(fn: (exit: { pid: number; code: number | null; signal: NodeJS.Signals | null; lastLines: readonly string[] }) => void): () => void;
  /** Pids of the vassal's current workers. */
  pids(): number[];
  /** Aborts when the vassal stops or reloads its alarms. */
  signal: AbortSignal;
}

/**
 * Builds a trigger from every value of one config option (`alarm-eventfd = ...` repeated).
 * Throws an EmperorError (CONFIG_INVALID) for a bad value.
 */
export type TriggerFactory = (values: readonly string[], host: TriggerHost) => { close(): Promise<void> | void };

export interface PluginDescriptor {
  name: string;
  monitors?: Record<string, MonitorFactory>;
  actions?: Record<string, AlarmActionFactory>;
  triggers?: Record<string, TriggerFactory>;
}
