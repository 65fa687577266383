/**
 * The one place that turns what monitors see into changes: a monitor's snapshot is diffed against
 * what that monitor announced before; upserts and removes are checked against it. Monitors never
 * diff themselves. A name belongs to the monitor that announced it first.
 */
import type { MonitorEvent, VassalSpec } from '../monitors/types.js';

export type Change =
  | { kind: 'add'; spec: VassalSpec }
  | { kind: 'change'; spec: VassalSpec }
  | { kind: 'remove'; name: string }
  | { kind: 'conflict'; spec: VassalSpec; owner: string };

/** What makes two announcements of a vassal the same: a difference means reload. */
function identity(spec: VassalSpec): string {
  return `${spec.revision}\u0000${spec.uid ?? ''}\u0000${spec.gid ?? ''}\u0000${spec.socket ?? ''}`;
}

export class Reconciler {
  /** monitor id -> (name -> identity) */
  private readonly known = new Map<string, Map<string, string>>();
  /** name -> owning monitor id */
  private readonly owner = new Map<string, string>();

  apply(monitorId: string, event: MonitorEvent): Change[] {
    switch (event.type) {
      case 'upsert': return this.upsert(monitorId, event.spec);
      case 'remove': return this.remove(monitorId, event.name);
      case 'snapshot': return this.snapshot(monitorId, event.specs);
      case 'error': return [];
    }
  }

  /** Forgets a name (after the emperor dropped it, e.g. tyrant mode refused it). */
  forget(name: string): void {
    const m = this.owner.get(name);
    if (m !== undefined) this.known.get(m)?.delete(name);
    this.owner.delete(name);
  }

  private mine(monitorId: string): Map<string, string> {
    let m = this.known.get(monitorId);
    if (!m) this.known.set(monitorId, (m = new Map()));
    return m;
  }

  private upsert(monitorId: string, spec: VassalSpec): Change[] {
    const owner = this.owner.get(spec.name);
    if (owner !== undefined && owner !== monitorId) return [{ kind: 'conflict', spec, owner }];
    const mine = this.mine(monitorId);
    const id = identity(spec);
    const prev = mine.get(spec.name);
    if (prev === id) return [];
    mine.set(spec.name, id);
    this.owner.set(spec.name, monitorId);
    return [{ kind: prev === undefined ? 'add' : 'change', spec }];
  }

  private remove(monitorId: string, name: string): Change[] {
    const mine = this.mine(monitorId);
    if (!mine.delete(name)) return [];
    this.owner.delete(name);
    return [{ kind: 'remove', name }];
  }

  private snapshot(monitorId: string, specs: readonly VassalSpec[]): Change[] {
    const mine = this.mine(monitorId);
    const seen = new Set<string>();
    const changes: Change[] = [];
    for (const spec of specs) {
      seen.add(spec.name);
      changes.push(...this.upsert(monitorId, spec));
    }
    for (const name of [...mine.keys()]) {
      if (!seen.has(name)) changes.push(...this.remove(monitorId, name));
    }
    return changes;
  }
}
