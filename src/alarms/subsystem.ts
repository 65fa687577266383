/**
 * One vassal's alarm subsystem: its alarms (name -> action), the triggers that raise them (log
 * lines, crashes, fatal signals, full listen queues, plugin triggers), the storm guards between
 * the two, and the lanes the actions run in. Nothing here waits on an action: a firing is queued
 * and its outcome logged when it comes.
 */
import { setMaxListeners } from 'node:events';
import { EmperorError, ErrorCodes, describeError, isEmperorError } from '../errors.js';
import type { AlarmDef, VassalConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { forEachLine, type LineBlock } from '../core/line-splitter.js';
import type { AlarmAction, AlarmActionFactory, AlarmActionHost, AlarmFiring, TriggerFactory, TriggerHost } from '../plugin.js';
import { BUILTIN_ACTIONS } from './actions/index.js';
import type { CmdActionHost, CmdSandbox } from './actions/cmd.js';
import { BacklogWatcher } from './backlog.js';
import { crashReport } from './crash.js';
import type { WorkerExit } from './exit.js';
import { LogRules } from './log-rules.js';
import { ALARM_LOG_PREFIX, ALARM_LOG_PREFIX_BYTES, isAlarmLine } from './prefix.js';
import { ActionLane } from './queue.js';
import { segfaultReport } from './segfault.js';
import { StormGuard, capMessage } from './storm.js';

export type { AlarmActionFactory, TriggerFactory } from '../plugin.js';
export type { WorkerExit } from './exit.js';

/** What the subsystem needs of its vassal: what its actions get, and more. */
export interface AlarmSubsystemHost extends AlarmActionHost {
  /** How the vassal's workers are held (cgroup, pid namespace, groups): cmd: actions are held alike. */
  sandbox?: CmdSandbox;
  cgroupPath?: string;
  /** Current worker pids (alarm-backlog looks at their listening sockets). */
  pids(): number[];
  /** Loads a plugin's action factory on first use. */
  resolveAction(prefix: string): Promise<AlarmActionFactory | undefined>;
  /** Loads a plugin's trigger factory on first use. */
  resolveTrigger(option: string): Promise<TriggerFactory | undefined>;
}

/** The alarm-related keys of a vassal config. */
export type AlarmConfig = Pick<
  VassalConfig,
  | 'alarms'
  | 'logAlarms'
  | 'alarmSegfault'
  | 'alarmBacklog'
  | 'alarmCrash'
  | 'alarmFreq'
  | 'alarmRate'
  | 'alarmMsgSize'
  | 'alarmCheap'
  | 'alarmTimeout'
  | 'alarmEventfd'
  | 'alarmMemory'
  | 'alarmOom'
>;

export interface AlarmStats {
  /** Action runs started, per alarm. */
  fired: Record<string, number>;
  /** Firings held back (alarm-freq duplicate, alarm-rate cap, full queue), per alarm. */
  suppressed: Record<string, number>;
  /** Action runs that failed or timed out, per alarm. */
  failed: Record<string, number>;
  last?: { alarm: string; message: string; at: number };
  /** The same counts by alarm, with its action: the per-alarm view of ops. */
  alarms: Record<string, { action: string; fired: number; suppressed: number; failed: number }>;
  /** The latest firings, oldest first; messages shortened for the stats document. */
  recent: Array<{ time: number; alarm: string; message: string }>;
}

/** Options handled by plugin triggers, with the VassalConfig field that holds their values. */
const PLUGIN_TRIGGERS = [
  ['alarm-eventfd', 'alarmEventfd'],
  ['alarm-memory', 'alarmMemory'],
  ['alarm-oom', 'alarmOom'],
] as const;

/** Firings kept for stats().recent, and the bytes of each message kept there. */
const RECENT_FIRINGS = 10;
const RECENT_MESSAGE_BYTES = 512;

/** How long close() waits for an action to release its connections. */
const ACTION_CLOSE_MS = 5000;

const ALARM_NAME = /^[^\s,]+$/;

interface AlarmEntry {
  name: string;
  /** The action prefix, for messages. */
  kind: string;
  action: AlarmAction;
  storm: StormGuard;
  lane: ActionLane;
  fired: number;
  suppressed: number;
  failed: number;
  /** Firings refused by a full lane since the last accepted one. */
  dropped: number;
}

function invalid(message: string, key: string, line?: number, cause?: unknown): EmperorError {
  return new EmperorError(ErrorCodes.CONFIG_INVALID, message, { key, line, cause });
}

function at(line: number | undefined): string {
  return line === undefined ? '' : ` (line ${line})`;
}

/** `a,b` lists, as repeated values or comma-joined in one. */
function splitNames(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) for (const n of v.split(',')) if (n.trim().length > 0) out.push(n.trim());
  return out;
}

function checkNumbers(c: AlarmConfig): void {
  const nonNegative = (v: number, key: string): void => {
    if (!Number.isFinite(v) || v < 0) throw invalid(`${key}: expected a number >= 0, got ${String(v)}`, key);
  };
  nonNegative(c.alarmFreq, 'alarm-freq');
  if (!Number.isInteger(c.alarmRate) || c.alarmRate < 0) {
    throw invalid(`alarm-rate: expected a whole number of firings per minute >= 0, got ${String(c.alarmRate)}`, 'alarm-rate');
  }
  if (!Number.isInteger(c.alarmMsgSize) || c.alarmMsgSize < 1) {
    throw invalid(`alarm-msg-size: expected a whole number of bytes >= 1, got ${String(c.alarmMsgSize)}`, 'alarm-msg-size');
  }
  if (!Number.isFinite(c.alarmTimeout) || c.alarmTimeout <= 0) {
    throw invalid(`alarm-timeout: expected a number of seconds > 0, got ${String(c.alarmTimeout)}`, 'alarm-timeout');
  }
}

async function closeQuietly(what: { close?(): Promise<void> | void }, log: Logger, label: string): Promise<void> {
  if (what.close === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve(what.close()),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ACTION_CLOSE_MS);
        timer.unref();
      }),
    ]);
  } catch (err) {
    log.warn(`${ALARM_LOG_PREFIX} closing ${label} failed: ${describeError(err)}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export class AlarmSubsystem {
  private readonly host: AlarmSubsystemHost;
  private readonly log: Logger;
  private readonly ac = new AbortController();
  private readonly entries = new Map<string, AlarmEntry>();
  private readonly timeoutMs: number;
  private readonly msgSize: number;
  private readonly rate: number;
  private rules: LogRules | undefined;
  private segfaultAlarms: readonly string[] = [];
  private crashAlarms: readonly string[] = [];
  private backlogAlarms: readonly string[] = [];
  private backlog: BacklogWatcher | undefined;
  private readonly triggers: Array<{ option: string; close(): Promise<void> | void }> = [];
  private readonly lineListeners = new Set<(line: string, pid: number) => void>();
  private readonly exitListeners = new Set<(exit: WorkerExit) => void>();
  private readonly warnedUnknown = new Set<string>();
  private last: AlarmStats['last'];
  private readonly recent: AlarmStats['recent'] = [];
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly onRuleHit = (alarms: readonly string[], line: string): void => this.raise(alarms, line);

  private constructor(config: AlarmConfig, host: AlarmSubsystemHost) {
    this.host = host;
    this.log = host.log;
    this.timeoutMs = Math.round(config.alarmTimeout * 1000);
    this.msgSize = config.alarmMsgSize;
    this.rate = config.alarmRate;
    // Every lane, storm guard and running action listens on this one signal.
    setMaxListeners(0, this.ac.signal);
  }

  /**
   * Builds the subsystem of one vassal. Throws EmperorError CONFIG_INVALID for an unknown action
   * prefix, a duplicate or unknown alarm name, a pattern RE2 rejects, or bad action arguments; a
   * plugin that fails to load rethrows its own error.
   */
  static async create(config: AlarmConfig, host: AlarmSubsystemHost): Promise<AlarmSubsystem> {
    checkNumbers(config);
    const sub = new AlarmSubsystem(config, host);
    try {
      await sub.buildAlarms(config);
      sub.buildTriggers(config);
      await sub.buildPluginTriggers(config);
    } catch (err) {
      await sub.close();
      throw err;
    }
    return sub;
  }

  /** One worker output line. */
  onLine(line: string, pid: number): void {
    if (this.closed || isAlarmLine(line)) return;
    if (this.lineListeners.size > 0) this.feedTriggers(line, pid);
    this.rules?.match(line, this.onRuleHit);
  }

  /** Hot path: the worker output lines of one read, matched as bytes, in order. */
  onLines(block: LineBlock, pid: number): void {
    if (this.closed) return;
    const rules = this.rules;
    // Alarm output is rare: a block without it is matched whole.
    if (this.lineListeners.size === 0 && block.indexOf(ALARM_LOG_PREFIX_BYTES) === -1) {
      rules?.matchBlock(block, this.onRuleHit);
      return;
    }
    forEachLine(block, (start, end) => {
      const bytes = block.subarray(start, end);
      if (this.closed || bytes.indexOf(ALARM_LOG_PREFIX_BYTES) !== -1) return;
      if (this.lineListeners.size > 0) this.feedTriggers(bytes.toString('utf8'), pid);
      rules?.matchBytes(bytes, this.onRuleHit);
    });
  }

  private feedTriggers(line: string, pid: number): void {
    for (const fn of this.lineListeners) {
      try {
        fn(line, pid);
      } catch (err) {
        this.log.error(`${ALARM_LOG_PREFIX} trigger failed on a worker line: ${describeError(err)}`);
      }
    }
  }

  onWorkerExit(exit: WorkerExit): void {
    if (this.closed) return;
    if (this.segfaultAlarms.length > 0) {
      const report = segfaultReport(exit);
      if (report !== undefined) this.raise(this.segfaultAlarms, report);
    }
    if (this.crashAlarms.length > 0) {
      const report = crashReport(exit);
      if (report !== undefined) this.raise(this.crashAlarms, report);
    }
    for (const fn of this.exitListeners) {
      try {
        fn(exit);
      } catch (err) {
        this.log.error(`${ALARM_LOG_PREFIX} trigger failed on a worker exit: ${describeError(err)}`);
      }
    }
  }

  /** alarm-crash: the vassal entered backoff. */
  onBackoff(message: string): void {
    if (this.crashAlarms.length > 0) this.raise(this.crashAlarms, message);
  }

  /** Raises alarms by name (triggers, the control socket). Unknown names are logged once. */
  raise(alarms: readonly string[], message: string): void {
    if (this.closed) return;
    const msg = capMessage(message, this.msgSize);
    for (const name of alarms) {
      const entry = this.entries.get(name);
      if (entry === undefined) {
        if (!this.warnedUnknown.has(name)) {
          this.warnedUnknown.add(name);
          this.log.warn(`${ALARM_LOG_PREFIX} raised unknown alarm "${name}": no "alarm = ${name} ..." in this vassal`, { alarm: name });
        }
        continue;
      }
      if (entry.storm.admit(msg) !== 'fire') {
        entry.suppressed++;
        continue;
      }
      this.dispatch(entry, msg);
    }
  }

  stats(): AlarmStats {
    const fired: Record<string, number> = {};
    const suppressed: Record<string, number> = {};
    const failed: Record<string, number> = {};
    const alarms: AlarmStats['alarms'] = {};
    for (const e of this.entries.values()) {
      fired[e.name] = e.fired;
      suppressed[e.name] = e.suppressed;
      failed[e.name] = e.failed;
      alarms[e.name] = { action: e.kind, fired: e.fired, suppressed: e.suppressed, failed: e.failed };
    }
    const recent = this.recent.map((r) => ({ ...r }));
    return this.last === undefined
      ? { fired, suppressed, failed, alarms, recent }
      : { fired, suppressed, failed, last: { ...this.last }, alarms, recent };
  }

  /** Stops timers, polling and triggers, aborts running actions, closes them. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.ac.abort(new EmperorError(ErrorCodes.ALARM_ACTION, 'the alarm subsystem closed'));
    this.lineListeners.clear();
    this.exitListeners.clear();
    await this.backlog?.close();
    for (const t of this.triggers.splice(0)) await closeQuietly(t, this.log, `trigger ${t.option}`);
    const lanes = new Set<ActionLane>();
    for (const e of this.entries.values()) {
      lanes.add(e.lane);
      const held = e.storm.flush();
      if (held > 0) this.reportRate(e, held, false);
    }
    await Promise.all([...lanes].map((l) => l.idle()));
    await Promise.all([...this.entries.values()].map((e) => closeQuietly(e.action, this.log, `alarm "${e.name}"`)));
  }

  private dispatch(entry: AlarmEntry, message: string): void {
    const firing: AlarmFiring = { alarm: entry.name, vassal: this.host.vassal, message };
    const timeoutMs = this.timeoutMs;
    const outcome = entry.lane.tryPush((signal) => entry.action.run(firing, { signal, timeoutMs }), timeoutMs);
    if (outcome === undefined) {
      entry.suppressed++;
      if (entry.dropped++ === 0 && !this.closed) {
        this.log.warn(`${ALARM_LOG_PREFIX} alarm "${entry.name}": its actions are backed up; dropping firings until they catch up`, {
          alarm: entry.name,
        });
      }
      return;
    }
    if (entry.dropped > 0) {
      this.log.warn(`${ALARM_LOG_PREFIX} alarm "${entry.name}": ${entry.dropped} firings were dropped while its actions were backed up`, {
        alarm: entry.name,
      });
      entry.dropped = 0;
    }
    entry.fired++;
    const now = Date.now();
    this.last = { alarm: entry.name, message, at: now };
    this.recent.push({ time: now, alarm: entry.name, message: capMessage(message, RECENT_MESSAGE_BYTES) });
    if (this.recent.length > RECENT_FIRINGS) this.recent.shift();
    outcome.catch((err: unknown) => {
      if (this.closed && this.ac.signal.aborted && err === this.ac.signal.reason) return;
      entry.failed++;
      this.log.error(`${ALARM_LOG_PREFIX} alarm "${entry.name}" (${entry.kind}) failed: ${describeError(err)}`, { alarm: entry.name });
    });
  }

  /** Says how much alarm-rate held back; through the alarm's own action too while open. */
  private reportRate(entry: AlarmEntry, held: number, viaAction: boolean): void {
    const text = `alarm-rate: ${held} more firings of alarm "${entry.name}" were suppressed in the last minute (cap ${this.rate}/min)`;
    this.log.warn(`${ALARM_LOG_PREFIX} ${text}`, { alarm: entry.name });
    if (viaAction && !this.closed) this.dispatch(entry, capMessage(text, this.msgSize));
  }

  private async buildAlarms(config: AlarmConfig): Promise<void> {
    const sharedLane = config.alarmCheap ? new ActionLane({ signal: this.ac.signal }) : undefined;
    const actionHost: CmdActionHost = {
      vassal: this.host.vassal,
      log: this.log,
      signalWorkers: (sig) => this.host.signalWorkers(sig),
      ...(this.host.credentials ? { credentials: this.host.credentials } : {}),
      ...(this.host.cwd !== undefined ? { cwd: this.host.cwd } : {}),
      ...(this.host.env !== undefined ? { env: this.host.env } : {}),
      ...(this.host.sandbox !== undefined ? { sandbox: this.host.sandbox } : {}),
    };
    for (const def of config.alarms) {
      if (!ALARM_NAME.test(def.name)) {
        throw invalid(`alarm${at(def.line)}: expected a name without spaces or commas, got ${JSON.stringify(def.name)}`, 'alarm', def.line);
      }
      if (this.entries.has(def.name)) {
        throw invalid(`alarm${at(def.line)}: the name "${def.name}" is defined twice; alarm names must be unique`, 'alarm', def.line);
      }
      const action = await this.buildAction(def, { ...actionHost, alarm: def.name });
      let self: AlarmEntry | undefined;
      const storm = new StormGuard({
        freqMs: config.alarmFreq * 1000,
        ratePerMinute: config.alarmRate,
        signal: this.ac.signal,
        onRateReport: (held) => {
          if (self !== undefined) this.reportRate(self, held, true);
        },
      });
      const entry: AlarmEntry = {
        name: def.name,
        kind: def.action,
        action,
        storm,
        lane: sharedLane ?? new ActionLane({ signal: this.ac.signal }),
        fired: 0,
        suppressed: 0,
        failed: 0,
        dropped: 0,
      };
      self = entry;
      this.entries.set(def.name, entry);
    }
  }

  private async buildAction(def: AlarmDef, host: CmdActionHost): Promise<AlarmAction> {
    const factory = Object.hasOwn(BUILTIN_ACTIONS, def.action) ? BUILTIN_ACTIONS[def.action] : await this.host.resolveAction(def.action);
    if (factory === undefined) {
      throw invalid(
        `alarm${at(def.line)}: unknown action "${def.action}:" in alarm "${def.name}"; ` +
          'expected log:, cmd:, signal:, curl:, xmpp: or an action of a loaded plugin',
        'alarm',
        def.line,
      );
    }
    try {
      return factory(def.args, host);
    } catch (err) {
      if (isEmperorError(err) && err.code !== ErrorCodes.CONFIG_INVALID) throw err;
      throw invalid(`alarm "${def.name}"${at(def.line)}: ${err instanceof Error ? err.message : String(err)}`, 'alarm', def.line, err);
    }
  }

  private checkNames(names: readonly string[], key: string, line?: number): void {
    for (const n of names) {
      if (!this.entries.has(n)) {
        throw invalid(`${key}${at(line)}: names alarm "${n}", which no "alarm = ${n} ..." line defines`, key, line);
      }
    }
  }

  private buildTriggers(config: AlarmConfig): void {
    for (const rule of config.logAlarms) this.checkNames(rule.alarms, rule.negate ? 'not-log-alarm' : 'log-alarm', rule.line);
    this.rules = LogRules.compile(config.logAlarms);

    this.segfaultAlarms = splitNames(config.alarmSegfault);
    this.checkNames(this.segfaultAlarms, 'alarm-segfault');
    this.crashAlarms = splitNames(config.alarmCrash);
    this.checkNames(this.crashAlarms, 'alarm-crash');
    this.backlogAlarms = splitNames(config.alarmBacklog);
    this.checkNames(this.backlogAlarms, 'alarm-backlog');

    if (this.backlogAlarms.length > 0) {
      const alarms = this.backlogAlarms;
      this.backlog = new BacklogWatcher({
        pids: () => this.host.pids(),
        onFull: (message) => this.raise(alarms, message),
        onError: (err, fatal) =>
          (fatal ? this.log.error.bind(this.log) : this.log.warn.bind(this.log))(`${ALARM_LOG_PREFIX} alarm-backlog: ${err.message}`),
      });
      this.backlog.start();
    }
  }

  private async buildPluginTriggers(config: AlarmConfig): Promise<void> {
    for (const [option, field] of PLUGIN_TRIGGERS) {
      const values = config[field];
      if (values.length === 0) continue;
      let factory: TriggerFactory | undefined;
      let why = 'no loaded plugin provides it';
      try {
        factory = await this.host.resolveTrigger(option);
      } catch (err) {
        why = describeError(err);
      }
      if (factory === undefined) {
        this.log.error(`${ALARM_LOG_PREFIX} ${option} is unavailable (${why}); its ${values.length} line(s) will not raise alarms`);
        continue;
      }
      let trigger: ReturnType<TriggerFactory>;
      try {
        trigger = factory(values, this.triggerHost());
      } catch (err) {
        if (isEmperorError(err)) throw err;
        throw new EmperorError(ErrorCodes.PLUGIN, `${option}: the trigger failed to start: ${describeError(err)}`, { key: option, cause: err });
      }
      this.triggers.push({ option, close: () => trigger.close() });
    }
  }

  private triggerHost(): TriggerHost {
    return {
      vassal: this.host.vassal,
      log: this.log,
      raise: (alarms, message) => this.raise(alarms, message),
      ...(this.host.cgroupPath !== undefined ? { cgroupPath: this.host.cgroupPath } : {}),
      onLine: (fn) => {
        this.lineListeners.add(fn);
        return () => this.lineListeners.delete(fn);
      },
      onExit: (fn) => {
        this.exitListeners.add(fn);
        return () => this.exitListeners.delete(fn);
      },
      pids: () => this.host.pids(),
      signal: this.ac.signal,
    };
  }
}
