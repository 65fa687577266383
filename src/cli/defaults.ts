/** Defaults of the emperor's options, in one place for the CLI, the help text and the README. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULTS = {
  freq: 3,
  throttle: 1000,
  maxThrottle: 180_000,
  throttleReset: 10_000,
  settle: 20,
  maxConfigSize: 1024 * 1024,
  logFormat: 'auto',
  logLevel: 'info',
  recentLines: 500,
} as const;

/** Durable state of message-fed vassals: the system's place as root, the user's otherwise. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/emperor';
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'emperor');
}
