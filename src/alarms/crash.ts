/** alarm-crash: a worker that ended without the emperor asking it to, and a vassal in backoff. */
import { describeExit, lastLinesBlock, type WorkerExit } from './exit.js';

/** The alarm message for an unexpected exit, or undefined when the emperor stopped the worker. */
export function crashReport(exit: WorkerExit): string | undefined {
  if (exit.expected) return undefined;
  return `worker ${exit.pid} ${describeExit(exit)} unexpectedly${lastLinesBlock(exit.lastLines)}`;
}
