/**
 * At most `max` tasks at once. Ten thousand config files are read in parallel without opening ten
 * thousand descriptors or flooding libuv's thread pool, which other vassals' I/O shares. Once the
 * signal aborts, queued tasks are dropped (rejected with the abort reason) instead of run.
 */
export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimit(max: number, signal?: AbortSignal): Limit {
  let active = 0;
  const waiting: Array<() => void> = [];
  // A finished task hands its slot straight to the next waiter, so a newcomer cannot jump in between.
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active += 1;
    try {
      signal?.throwIfAborted();
      return await task();
    } finally {
      release();
    }
  };
}
