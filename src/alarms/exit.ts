/** A worker's exit as the alarm subsystem sees it. */
export interface WorkerExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The worker's last output lines, oldest first. */
  lastLines: readonly string[];
  /** The emperor stopped it (stop, reload, scale down): not a crash. */
  expected: boolean;
}

/** Output lines quoted in a report; alarm-msg-size caps the whole message afterwards. */
export const REPORT_LINES = 20;

export function describeExit(exit: Pick<WorkerExit, 'code' | 'signal'>): string {
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code ?? 'unknown'}`;
}

/** The last lines, as a block to append to a report (empty when the worker said nothing). */
export function lastLinesBlock(lines: readonly string[]): string {
  if (lines.length === 0) return '';
  const tail = lines.length > REPORT_LINES ? lines.slice(-REPORT_LINES) : lines;
  return `\nlast output:\n${tail.join('\n')}`;
}
