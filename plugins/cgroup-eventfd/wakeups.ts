/**
 * How the cgroup triggers learn that something may have changed: a file the kernel marks modified
 * (cgroup v2 memory.events, through inotify), a periodic sample where the kernel notifies nothing
 * (v2 memory.current), and a coalescing runner so readings are taken one at a time, in order.
 */
import { watch } from 'node:fs';

/** How often v2 memory usage is sampled (the kernel offers no usage notification on v2). */
export const SAMPLE_MS = 1000;

/** Calls `onChange` whenever the kernel reports `path` modified, until `signal` aborts. */
export function onFileChange(path: string, onChange: () => void, onError: (err: Error) => void, signal: AbortSignal): void {
  const w = watch(path, { signal, persistent: false });
  w.on('change', () => onChange());
  w.on('error', (err: Error) => {
    if (!signal.aborted) onError(err);
  });
}

/** Calls `fn` every `ms` until `signal` aborts. */
export function every(ms: number, fn: () => void, signal: AbortSignal): void {
  const t = setInterval(fn, ms);
  signal.addEventListener('abort', () => clearInterval(t), { once: true });
}

/**
 * Wraps an async step so calls never overlap: a call during a run schedules one more run after
 * it, however many calls came. Failures go to `onError`.
 */
export function coalesce(step: () => Promise<void>, onError: (err: unknown) => void): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void step()
      .catch(onError)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return run;
}
