/**
 * The JSON text of each vassal's stats entry, kept between requests: at rest almost nothing of a
 * vassal changes from one request to the next, and serializing 10,000 entries anew every time
 * would cost more than the answer may take. An entry is reused only when everything it is made
 * of is the same (compared by value, or by identity for objects that are replaced, never changed,
 * when they change), and only its `usage_age_ms` is written anew. Memory and CPU figures change
 * with every pass of the sampler while vassals are busy: when they alone changed, only the span
 * from `"workers":` to `"usage_age_ms":` (worker slots with their figures, the totals) is
 * written anew.
 * Vassals with an alarm subsystem are always serialized afresh: its statistics are its own
 * business and may change at any time.
 */
import type { Vassal, VassalState } from '../core/vassal.js';
import type { VassalInputs, VassalStats } from './stats.js';

const SPAN_START = '"workers":';
const AGE_KEY = '"usage_age_ms":';

interface Entry {
  state: VassalState;
  restarts: number;
  reloads: number;
  crashLevel: number;
  lastModAt: number;
  readyAt: number | undefined;
  lastExit: unknown;
  configError: string | undefined;
  plan: unknown;
  onDemand: string | undefined;
  health: string;
  loyal: boolean;
  warmup: unknown;
  monitorServer: unknown;
  /** Every worker slot, SLOT_FIELDS numbers each (its figures aside). */
  slots: number[];
  /** rss and CPU seconds of every slot, then the vassal's totals. */
  figures: number[];
  /** The entry's text up to and including `"workers":`; from there through `"usage_age_ms":`; after the age. */
  head: string;
  span: string;
  tail: string;
}

/** The entry's text from after `"workers":` through `"usage_age_ms":`, as the entry writes it. */
export type UsageSpan = (inputs: VassalInputs) => string;

export class EntryTexts {
  private readonly entries = new WeakMap<Vassal, Entry>();

  constructor(private readonly span: UsageSpan) {}

  /** The entry's JSON text and the age of its figures; `build` makes the entry when it changed. */
  text(inputs: VassalInputs, now: number, build: () => VassalStats): { value: string; age: number | null } {
    const { vassal: v, usage } = inputs;
    const age = usage.oldest === undefined ? null : Math.max(0, now - usage.oldest);
    const old = this.entries.get(v);
    if (old && inputs.alarms === undefined && same(old, inputs)) {
      if (!sameFigures(old.figures, inputs)) {
        old.figures = figureValues(inputs);
        old.span = this.span(inputs);
      }
      return { value: old.head + old.span + String(age) + old.tail, age };
    }
    const text = JSON.stringify(build());
    // The first `"workers":` and `"usage_age_ms":` are the keys: inside a string value their
    // quotes would be escaped.
    const start = text.indexOf(SPAN_START) + SPAN_START.length;
    const at = text.indexOf(AGE_KEY, start) + AGE_KEY.length;
    const valueEnd = text.indexOf(',', at);
    const entry: Entry = {
      state: v.state,
      restarts: v.restarts,
      reloads: v.reloads,
      crashLevel: v.crashLevel,
      lastModAt: v.lastModAt,
      readyAt: v.readyAt,
      lastExit: v.lastExit,
      configError: v.configError,
      plan: v.plan,
      onDemand: v.onDemand,
      health: inputs.health,
      loyal: inputs.loyal,
      warmup: inputs.warmup,
      monitorServer: inputs.monitorServer,
      slots: slotValues(inputs),
      figures: figureValues(inputs),
      head: text.slice(0, start),
      span: text.slice(start, at),
      tail: text.slice(valueEnd),
    };
    if (inputs.alarms === undefined) this.entries.set(v, entry);
    else this.entries.delete(v);
    return { value: text, age };
  }
}

function same(e: Entry, inputs: VassalInputs): boolean {
  const v = inputs.vassal;
  return (
    e.state === v.state &&
    e.restarts === v.restarts &&
    e.reloads === v.reloads &&
    e.crashLevel === v.crashLevel &&
    e.lastModAt === v.lastModAt &&
    e.readyAt === v.readyAt &&
    e.lastExit === v.lastExit &&
    e.configError === v.configError &&
    e.plan === v.plan &&
    e.onDemand === v.onDemand &&
    e.health === inputs.health &&
    e.loyal === inputs.loyal &&
    e.warmup === inputs.warmup &&
    e.monitorServer === inputs.monitorServer &&
    sameSlots(e.slots, inputs)
  );
}

function figureValues({ usage }: VassalInputs): number[] {
  const out: number[] = [];
  for (const f of usage.figures) out.push(f ? f.rss : NONE, f ? f.cpuSeconds : NONE);
  out.push(usage.rss, usage.cpuSeconds);
  return out;
}

function sameFigures(old: readonly number[], { usage }: VassalInputs): boolean {
  const n = usage.figures.length;
  if (old.length !== n * 2 + 2) return false;
  for (let i = 0; i < n; i++) {
    const f = usage.figures[i];
    if (old[i * 2] !== (f ? f.rss : NONE) || old[i * 2 + 1] !== (f ? f.cpuSeconds : NONE)) return false;
  }
  return old[n * 2] === usage.rss && old[n * 2 + 1] === usage.cpuSeconds;
}

const SLOT_FIELDS = 6;
/** Stands for undefined among the numbers (no pid, no figures, no restart planned). */
const NONE = -1;

function slotValues(inputs: VassalInputs): number[] {
  const out: number[] = [];
  for (let i = 0; i < inputs.slots.length; i++) {
    const w = inputs.slots[i]!;
    out.push(w.slot, w.pid ?? NONE, w.ready ? 1 : 0, w.exiled ? 1 : 0, w.startedAt ?? NONE, w.restartAt ?? NONE);
  }
  return out;
}

function sameSlots(old: readonly number[], inputs: VassalInputs): boolean {
  const { slots } = inputs;
  if (old.length !== slots.length * SLOT_FIELDS) return false;
  for (let i = 0; i < slots.length; i++) {
    const w = slots[i]!;
    const o = i * SLOT_FIELDS;
    if (
      old[o] !== w.slot ||
      old[o + 1] !== (w.pid ?? NONE) ||
      old[o + 2] !== (w.ready ? 1 : 0) ||
      old[o + 3] !== (w.exiled ? 1 : 0) ||
      old[o + 4] !== (w.startedAt ?? NONE) ||
      old[o + 5] !== (w.restartAt ?? NONE)
    ) {
      return false;
    }
  }
  return true;
}
