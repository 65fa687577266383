/**
 * `alarm-eventfd = ALARM[:MESSAGE] CONTROL_FILE SUBJECT_FILE [EXTRA]` (the uwsgi-eventfd syntax,
 * split like a shell would), shared by the trigger that runs it and the tyrant check that keeps
 * its files inside the vassal's own cgroup.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import { shellSplit, ShellSplitError } from '../config/shell-split.js';

export interface EventfdLine {
  alarm: string;
  /** The text after `:`, or the alarm's name. */
  message: string;
  control: string;
  subject: string;
  extra?: string;
}

const SYNTAX = 'ALARM[:MESSAGE] CONTROL_FILE SUBJECT_FILE [EXTRA] (e.g. mem %(cgroup)/cgroup.event_control %(cgroup)/memory.usage_in_bytes 100000000)';

export function parseEventfdLine(value: string): EventfdLine {
  let words: string[];
  try {
    words = shellSplit(value);
  } catch (err) {
    if (err instanceof ShellSplitError) throw new EmperorError(ErrorCodes.CONFIG_INVALID, `alarm-eventfd: expected ${SYNTAX}, got '${value}': ${err.message}`, { key: 'alarm-eventfd', cause: err });
    throw err;
  }
  if (words.length < 3) throw new EmperorError(ErrorCodes.CONFIG_INVALID, `alarm-eventfd: expected ${SYNTAX}, got '${value}'`, { key: 'alarm-eventfd' });
  const [first, control, subject, ...rest] = words as [string, string, string, ...string[]];
  const colon = first.indexOf(':');
  const alarm = colon === -1 ? first : first.slice(0, colon);
  const message = colon === -1 ? alarm : first.slice(colon + 1);
  const line: EventfdLine = { alarm, message, control, subject };
  if (rest.length > 0) line.extra = rest.join(' ');
  return line;
}
