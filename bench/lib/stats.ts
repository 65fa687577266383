/** Percentiles of latency samples, interpolated between ranks (as numpy's default). */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: s[0] ?? Number.NaN, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? Number.NaN, mean };
}

/** `p50 12.3 · p95 20.1 · max 31.0 ms (n=40)` for notes. */
export function describe(s: Summary, unit = 'ms'): string {
  const f = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `p50 ${f(s.p50)} · p95 ${f(s.p95)} · min ${f(s.min)} · max ${f(s.max)} ${unit} (n=${s.n})`;
}
