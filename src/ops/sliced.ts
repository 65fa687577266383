/**
 * Work over a whole fleet in slices: a document about 10,000 vassals takes tens of milliseconds
 * to build, and the event loop (worker exits, readiness, other requests) must not wait that long.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/**
 * Longest stretch of work between two yields to the event loop. While a burst of vassals starts,
 * each yield waits for a turn of the loop (up to the turn budget, src/core/turn-budget.ts), so
 * slices much shorter than that budget would make a request wait mostly for other work.
 */
export const SLICE_MS = 8;
/** Items between two looks at the clock. */
const CHECK_EVERY = 32;

/** `items.map(fn)`, yielding to the event loop whenever a slice has run SLICE_MS. */
export async function mapSliced<T, R>(items: readonly T[], fn: (item: T) => R): Promise<R[]> {
  const out: R[] = [];
  let t0 = performance.now();
  for (let i = 0; i < items.length; i++) {
    out.push(fn(items[i]!));
    if (i % CHECK_EVERY === CHECK_EVERY - 1 && performance.now() - t0 > SLICE_MS) {
      await yieldToLoop();
      t0 = performance.now();
    }
  }
  return out;
}

/** The fleet's order: by name, as `localeCompare` orders them (V8's fast path for it beats an Intl.Collator). */
export const byLocale = (a: string, b: string): number => a.localeCompare(b);
