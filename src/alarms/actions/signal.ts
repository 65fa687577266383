/**
 * `signal:SIG`: sends a POSIX signal (name with or without SIG, or number) to every worker of the
 * vassal. uWSGI's `signal:N` raised one of its own internal signals; a supervisor of any program
 * can only speak POSIX.
 */
import { constants } from 'node:os';
import { EmperorError, ErrorCodes } from '../../errors.js';
import type { AlarmActionFactory } from '../../plugin.js';

/** Highest signal number Linux accepts (SIGRTMAX). */
const MAX_SIGNAL = 64;

export function parseSignal(text: string): NodeJS.Signals | number {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= MAX_SIGNAL) return n;
  } else {
    const upper = t.toUpperCase();
    const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
    if (Object.hasOwn(constants.signals, name)) return name;
  }
  throw new EmperorError(
    ErrorCodes.CONFIG_INVALID,
    `signal: expected a signal name (HUP, SIGUSR1...) or a number from 1 to ${MAX_SIGNAL}, got ${JSON.stringify(text)}`,
    { key: 'alarm' },
  );
}

export const signalAction: AlarmActionFactory = (args, host) => {
  const sig = parseSignal(args);
  return {
    async run() {
      host.signalWorkers(sig);
    },
  };
};
