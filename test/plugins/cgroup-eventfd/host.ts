/** A TriggerHost that records what the triggers raise, for tests. */
import { MemoryLogger } from '../../../src/log/logger.js';
import type { TriggerHost } from '../../../src/plugin.js';

export interface Raised {
  alarms: readonly string[];
  message: string;
  at: number;
}

export function recordingHost(vassal: string, cgroupPath: string | undefined): { host: TriggerHost; raised: Raised[]; log: MemoryLogger; stop: () => void } {
  const raised: Raised[] = [];
  const log = new MemoryLogger();
  const ac = new AbortController();
  const host: TriggerHost = {
    vassal,
    log,
    raise: (alarms, message) => raised.push({ alarms, message, at: Date.now() }),
    onLine: () => () => {},
    onExit: () => () => {},
    pids: () => [],
    signal: ac.signal,
    ...(cgroupPath === undefined ? {} : { cgroupPath }),
  };
  return { host, raised, log, stop: () => ac.abort() };
}
