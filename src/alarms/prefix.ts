/**
 * Every line the alarm subsystem writes itself starts with this marker, and no line carrying it is
 * ever matched against a log-alarm rule: an action whose own output matches its rule cannot loop.
 */
export const ALARM_LOG_PREFIX = '[emperor-alarm]';
export const ALARM_LOG_PREFIX_BYTES = Buffer.from(ALARM_LOG_PREFIX);

/** True for a line the alarm subsystem (or an action) produced. Checked anywhere in the line, so a
 * logger that adds a timestamp in front still cannot turn an alarm's output into a new alarm. */
export function isAlarmLine(line: string): boolean {
  return line.includes(ALARM_LOG_PREFIX);
}
