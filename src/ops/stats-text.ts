/**
 * The JSON text of each vassal's stats entry, kept between requests: at rest almost nothing of a
 * vassal changes from one request to the next, and serializing 10,000 entries anew every time
 * would cost more than the answer may take. An entry is reused only when everything it is made
 * of is the same (compared by value, or by identity for objects that are replaced, never changed,
 * when they change); only its `usage_age_ms` is written anew. Vassals with an alarm subsystem are
 * always serialized afresh: its statistics are its own business and may change at any time.
 */
import type { Vassal, VassalState } from '../core/vassal.js';
import type { VassalInputs, VassalStats } from './stats.js';

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
  /** Every worker slot and its figures, SLOT_FIELDS numbers each. */
  slots: number[];
  /** The entry's text up to and including `"usage_age_ms":`, and after its value. */
  head: string;
  tail: string;
}

export class EntryTexts {
  private readonly entries = new WeakMap<Vassal, Entry>();

  /** The entry's JSON text and the age of its figures; `build` makes the entry when it changed. */
  text(inputs: VassalInputs, now: number, build: () => VassalStats): { value: string; age: number | null } {
    const { vassal: v, usage } = inputs;
    const age = usage.oldest === undefined ? null : Math.max(0, now - usage.oldest);
    const old = this.entries.get(v);
    if (old && inputs.alarms === undefined && same(old, inputs)) return { value: old.head + String(age) + old.tail, age };
    const text = JSON.stringify(build());
    // The first `"usage_age_ms":` is the key: inside a string value its quotes would be escaped.
    const at = text.indexOf(AGE_KEY) + AGE_KEY.length;
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
      head: text.slice(0, at),
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

const SLOT_FIELDS = 8;
/** Stands for undefined among the numbers (no pid, no figures, no restart planned). */
const NONE = -1;

function slotValues(inputs: VassalInputs): number[] {
  const out: number[] = [];
  for (let i = 0; i < inputs.slots.length; i++) {
    const w = inputs.slots[i]!;
    const f = inputs.usage.figures[i];
    out.push(w.slot, w.pid ?? NONE, w.ready ? 1 : 0, w.exiled ? 1 : 0, w.startedAt ?? NONE, w.restartAt ?? NONE, f ? f.rss : NONE, f ? f.cpuSeconds : NONE);
  }
  return out;
}

function sameSlots(old: readonly number[], inputs: VassalInputs): boolean {
  const { slots, usage } = inputs;
  if (old.length !== slots.length * SLOT_FIELDS) return false;
  for (let i = 0; i < slots.length; i++) {
    const w = slots[i]!;
    const f = usage.figures[i];
    const o = i * SLOT_FIELDS;
    if (
      old[o] !== w.slot ||
      old[o + 1] !== (w.pid ?? NONE) ||
      old[o + 2] !== (w.ready ? 1 : 0) ||
      old[o + 3] !== (w.exiled ? 1 : 0) ||
      old[o + 4] !== (w.startedAt ?? NONE) ||
      old[o + 5] !== (w.restartAt ?? NONE) ||
      old[o + 6] !== (f ? f.rss : NONE) ||
      old[o + 7] !== (f ? f.cpuSeconds : NONE)
    ) {
      return false;
    }
  }
  return true;
}
