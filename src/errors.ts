/**
 * Every error the emperor raises on purpose carries a stable code, so logs, the control socket and
 * tests can tell them apart without matching on message text. The cause is always kept.
 */
export const ErrorCodes = {
  /** A vassal config that does not parse (syntax, encoding, size). */
  CONFIG_PARSE: 'EMP_ERR_CONFIG_PARSE',
  /** A vassal config that parses but does not validate (unknown key, wrong type, bad value). */
  CONFIG_INVALID: 'EMP_ERR_CONFIG_INVALID',
  /** A config file that cannot be read (missing, directory, symlink loop, too large). */
  CONFIG_READ: 'EMP_ERR_CONFIG_READ',
  /** A bad command-line option or monitor argument. */
  USAGE: 'EMP_ERR_USAGE',
  /** A monitor lost its source or failed a read; it retries on its own. */
  MONITOR: 'EMP_ERR_MONITOR',
  /** A message or row from a monitor's source that cannot become a vassal. */
  MONITOR_INPUT: 'EMP_ERR_MONITOR_INPUT',
  /** A worker that could not be spawned. */
  SPAWN: 'EMP_ERR_SPAWN',
  /** An alarm action that failed or timed out. */
  ALARM_ACTION: 'EMP_ERR_ALARM_ACTION',
  /** Something refused by tyrant mode or the sandbox rules. */
  PERMISSION: 'EMP_ERR_PERMISSION',
  /** A plugin that cannot be loaded or is malformed. */
  PLUGIN: 'EMP_ERR_PLUGIN',
  /** A control-socket request that cannot be carried out. */
  CONTROL: 'EMP_ERR_CONTROL',
  /** A native part (exec helper, eventfd addon) that is unavailable. */
  NATIVE_UNAVAILABLE: 'EMP_ERR_NATIVE_UNAVAILABLE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ErrorDetails {
  /** The file (or row, message, monitor id) the error is about. */
  file?: string;
  /** 1-based line in that file, where there is one. */
  line?: number;
  /** The config key or command-line option at fault. */
  key?: string;
  cause?: unknown;
}

export class EmperorError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly key: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'EmperorError';
    this.code = code;
    this.file = details.file;
    this.line = details.line;
    this.key = details.key;
  }

  /** "file:line: message", the form editors and users recognise. */
  get located(): string {
    if (this.file === undefined) return this.message;
    return this.line === undefined ? `${this.file}: ${this.message}` : `${this.file}:${this.line}: ${this.message}`;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, file: this.file, line: this.line, key: this.key };
  }
}

export function isEmperorError(err: unknown, code?: ErrorCode): err is EmperorError {
  return err instanceof EmperorError && (code === undefined || err.code === code);
}

/** A message for any thrown value, located when it is one of ours. */
export function describeError(err: unknown): string {
  if (err instanceof EmperorError) return err.located;
  if (err instanceof Error) return err.message;
  return String(err);
}
