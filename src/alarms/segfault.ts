/**
 * alarm-segfault: a worker killed by a signal that means it crashed inside (memory fault, illegal
 * instruction, arithmetic fault, abort). uWSGI sends a backtrace of itself; a supervisor of any
 * program can only send what it saw: which signal, and the worker's last output lines.
 */
import { lastLinesBlock, type WorkerExit } from './exit.js';

const FATAL_SIGNALS: ReadonlyMap<string, string> = new Map([
  ['SIGSEGV', 'segmentation fault'],
  ['SIGBUS', 'bus error'],
  ['SIGILL', 'illegal instruction'],
  ['SIGFPE', 'floating-point exception'],
  ['SIGABRT', 'aborted'],
]);

export function isFatalSignal(signal: NodeJS.Signals | null): boolean {
  return signal !== null && FATAL_SIGNALS.has(signal);
}

/** The alarm message for a fatal-signal death, or undefined when the exit was not one. */
export function segfaultReport(exit: Pick<WorkerExit, 'pid' | 'signal' | 'lastLines'>): string | undefined {
  if (exit.signal === null) return undefined;
  const what = FATAL_SIGNALS.get(exit.signal);
  if (what === undefined) return undefined;
  return `worker ${exit.pid} killed by ${exit.signal} (${what})${lastLinesBlock(exit.lastLines)}`;
}
