/** The emperor's output: one non-blocking destination shared by its events and its vassals' lines. */
import pretty from 'pino-pretty';
import { createLogger, type Logger, type LogLevel } from '../log/logger.js';
import { ConsoleOutput, openDestination, type OutputSink } from '../log/output.js';

export interface CliOutput {
  log: Logger;
  output: OutputSink;
  flush(): Promise<void>;
}

export function setUpOutput(format: 'auto' | 'json' | 'text', level: LogLevel): CliOutput {
  const json = format === 'json' || (format === 'auto' && !process.stdout.isTTY);
  const dest = openDestination(1);
  const output = new ConsoleOutput(dest, json);
  const log = json
    ? createLogger(dest, level)
    : createLogger(pretty({ destination: dest, colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', hideObject: true, messageFormat: '{if vassal}{vassal}: {end}{if monitor}{monitor}: {end}{msg}', singleLine: true, sync: false }), level);
  return { log, output, flush: () => output.close() };
}
