/** The emperor's output: one non-blocking destination shared by its events and its vassals' lines. */
import { createLogger, type Logger, type LogLevel } from '../log/logger.js';
import { ConsoleOutput, openDestination, type OutputSink } from '../log/output.js';
import { textDestination } from '../log/text-format.js';

export interface CliOutput {
  log: Logger;
  output: OutputSink;
  flush(): Promise<void>;
}

export function setUpOutput(format: 'auto' | 'json' | 'text', level: LogLevel): CliOutput {
  const json = format === 'json' || (format === 'auto' && !process.stdout.isTTY);
  const dest = openDestination(1);
  const output = new ConsoleOutput(dest, json);
  const log = createLogger(json ? dest : textDestination(dest, Boolean(process.stdout.isTTY)), level);
  return { log, output, flush: () => output.close() };
}
