/** How a worker ended: a result, never an exception. */
export interface ExitResult {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** exited: on its own; stopped: we asked it to; killed: SIGKILL after the stop timeout; spawn-failed: never ran. */
  reason: 'exited' | 'stopped' | 'killed' | 'spawn-failed';
  /** SIGKILL was needed because the worker outlived its stop timeout. */
  forced: boolean;
  durationMs: number;
  /** For spawn failures: why. */
  error?: string;
}

/** Exit code by which a vassal says "do not respawn me" (uWSGI's UWSGI_EXILE_CODE). */
export const EXILE_CODE = 26;

/** Exit code of the exec helper when PROGRAM cannot be executed. */
export const EXEC_FAILED_CODE = 127;
/** Exit code of the exec helper when setting up the worker failed (cgroup, credentials). */
export const SETUP_FAILED_CODE = 126;

export function describeExit(e: ExitResult): string {
  if (e.reason === 'spawn-failed') return `could not be spawned: ${e.error ?? 'unknown error'}`;
  const how = e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
  const forced = e.forced ? ' (SIGKILL after stop timeout)' : '';
  return `${how}${forced} after ${formatDuration(e.durationMs)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  return h < 24 ? `${h}h${m % 60}m` : `${Math.floor(h / 24)}d${h % 24}h`;
}
