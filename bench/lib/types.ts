/**
 * The shapes every benchmark shares: a figure (one measured number with its target and the exact
 * command behind it), a benchmark's result, and what the runner gives each benchmark.
 */
import type { Cleanup } from './cleanup.js';
import type { Features } from './features.js';

export type Unit = 'ms' | 's' | 'MB' | '%' | '% of a core' | 'lines/s' | 'processes' | 'count';

export interface Target {
  op: '<=' | '<' | '>=';
  value: number;
}

/**
 * met / missed: measured and compared with the target. info: measured, no target.
 * unavailable: the feature's module does not exist yet. unmeasured: the module exists but the
 * figure could not be taken (the reason is in `note`).
 */
export type FigureStatus = 'met' | 'missed' | 'info' | 'unavailable' | 'unmeasured';

export interface Figure {
  label: string;
  value: number | undefined;
  unit: Unit;
  target?: Target;
  status: FigureStatus;
  note?: string;
  /** The product command (emperor or uwsgi) the figure comes from. */
  command?: string;
}

export interface Machine {
  nproc: number;
  model: string;
  memoryMB: number;
  kernel: string;
  node: string;
  uwsgi: string | undefined;
  tree: string;
}

export interface BenchResult {
  name: string;
  title: string;
  /** ISO date of the run. */
  date: string;
  /** How to rerun exactly this benchmark. */
  rerun: string;
  quick: boolean;
  durationS: number;
  /** 1-minute load average before and after: a shared machine's noise, stated. */
  load: [number, number];
  machine: Machine;
  figures: Figure[];
  /** Paragraphs: what was run, how it was measured, what dominated. */
  notes: string[];
}

export interface BenchContext {
  quick: boolean;
  /** The repository root. */
  root: string;
  features: Features;
  cleanup: Cleanup;
  /** Write CPU profiles of the emperor under bench/profiles and summarize them in the notes. */
  profile: boolean;
  log(msg: string): void;
}

export interface BenchOutput {
  figures: Figure[];
  notes: string[];
}

export interface Benchmark {
  name: string;
  title: string;
  /** Minutes of machine time and thousands of processes: run in full mode or when named. */
  heavy?: boolean;
  run(ctx: BenchContext): Promise<BenchOutput>;
}

/** A figure, its status computed from the target. */
export function figure(label: string, value: number | undefined, unit: Unit, opts: { target?: Target; note?: string; command?: string; status?: FigureStatus } = {}): Figure {
  let status: FigureStatus = opts.status ?? 'info';
  if (opts.status === undefined && opts.target) {
    if (value === undefined || Number.isNaN(value)) status = 'unmeasured';
    else status = meets(value, opts.target) ? 'met' : 'missed';
  }
  const f: Figure = { label, value, unit, status };
  if (opts.target) f.target = opts.target;
  if (opts.note) f.note = opts.note;
  if (opts.command) f.command = opts.command;
  return f;
}

/** A figure that could not be taken: `unavailable` when the module is missing, else `unmeasured`. */
export function missing(label: string, unit: Unit, why: string, opts: { target?: Target; unavailable?: boolean; command?: string } = {}): Figure {
  return figure(label, undefined, unit, { ...opts, status: opts.unavailable ? 'unavailable' : 'unmeasured', note: why });
}

export function meets(value: number, t: Target): boolean {
  switch (t.op) {
    case '<=': return value <= t.value;
    case '<': return value < t.value;
    case '>=': return value >= t.value;
  }
}
