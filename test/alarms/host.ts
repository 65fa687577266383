/** A test host for the alarm subsystem: a memory logger, real pids, plugin tables by hand. */
import { MemoryLogger } from '../../src/log/logger.js';
import type { AlarmSubsystemHost } from '../../src/alarms/subsystem.js';
import type { AlarmConfig } from '../../src/alarms/subsystem.js';
import type { AlarmActionFactory, TriggerFactory } from '../../src/plugin.js';

export function alarmConfig(over: Partial<AlarmConfig> = {}): AlarmConfig {
  return {
    alarms: [],
    logAlarms: [],
    alarmSegfault: [],
    alarmBacklog: [],
    alarmCrash: [],
    alarmFreq: 3,
    alarmRate: 0,
    alarmMsgSize: 8192,
    alarmCheap: false,
    alarmTimeout: 10,
    alarmEventfd: [],
    alarmMemory: [],
    alarmOom: [],
    ...over,
  };
}

export interface TestHost extends AlarmSubsystemHost {
  log: MemoryLogger;
  signals: Array<NodeJS.Signals | number>;
}

export function testHost(over: Partial<AlarmSubsystemHost> & {
  actions?: Record<string, AlarmActionFactory>;
  triggers?: Record<string, TriggerFactory>;
} = {}): TestHost {
  const { actions = {}, triggers = {}, ...rest } = over;
  const signals: Array<NodeJS.Signals | number> = [];
  return {
    vassal: 'app.ini',
    log: new MemoryLogger(),
    signals,
    signalWorkers: (sig) => {
      signals.push(sig);
    },
    pids: () => [],
    resolveAction: (prefix) => Promise.resolve(actions[prefix]),
    resolveTrigger: (option) => Promise.resolve(triggers[option]),
    ...rest,
  } as TestHost;
}

/** Records of the `log:` action (and only those). */
export function alarmRecords(log: MemoryLogger): string[] {
  return log.records.filter((r) => r.msg.includes(' ALARM: ')).map((r) => r.msg);
}
