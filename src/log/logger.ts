/**
 * The emperor's own structured events. JSON lines when stdout is not a terminal (for journald,
 * Loki, jq), readable lines when it is. Writes never block the event loop: a reader that stops
 * reading costs dropped lines (counted), never a stalled emperor.
 */
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose every record carries these fields (vassal, monitor, alarm). */
  child(bindings: LogFields): Logger;
}

class PinoBacked implements Logger {
  constructor(private readonly p: PinoLogger) {}
  debug(msg: string, fields?: LogFields): void { this.p.debug(fields ?? {}, msg); }
  info(msg: string, fields?: LogFields): void { this.p.info(fields ?? {}, msg); }
  warn(msg: string, fields?: LogFields): void { this.p.warn(fields ?? {}, msg); }
  error(msg: string, fields?: LogFields): void { this.p.error(fields ?? {}, msg); }
  child(bindings: LogFields): Logger { return new PinoBacked(this.p.child(bindings)); }
}

export function createLogger(dest: DestinationStream, level: LogLevel = 'info'): Logger {
  const p = pino(
    {
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err },
    },
    dest,
  );
  return new PinoBacked(p);
}

export interface LogRecord extends LogFields {
  level: LogLevel;
  msg: string;
}

/** A logger that keeps records in memory: for tests, and for code that reports after the fact. */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[];
  private readonly bindings: LogFields;
  private readonly listeners: Array<(r: LogRecord) => void>;

  constructor(records: LogRecord[] = [], bindings: LogFields = {}, listeners: Array<(r: LogRecord) => void> = []) {
    this.records = records;
    this.bindings = bindings;
    this.listeners = listeners;
  }
  private push(level: LogLevel, msg: string, fields?: LogFields): void {
    const r: LogRecord = { ...this.bindings, ...fields, level, msg };
    this.records.push(r);
    for (const l of this.listeners) l(r);
  }
  debug(msg: string, fields?: LogFields): void { this.push('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.push('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.push('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.push('error', msg, fields); }
  child(bindings: LogFields): Logger { return new MemoryLogger(this.records, { ...this.bindings, ...bindings }, this.listeners); }
  /** Calls back on every later record (of this logger and its children). */
  onRecord(fn: (r: LogRecord) => void): void { this.listeners.push(fn); }
  /** Resolves with the first record (past or future) that matches, or rejects after timeoutMs. */
  waitFor(pred: (r: LogRecord) => boolean, timeoutMs = 10_000): Promise<LogRecord> {
    const found = this.records.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log record within ${timeoutMs} ms`)), timeoutMs);
      this.listeners.push((r) => {
        if (pred(r)) { clearTimeout(timer); resolve(r); }
      });
    });
  }
}
