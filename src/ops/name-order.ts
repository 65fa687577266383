/**
 * The vassals in name order, kept between requests: sorting 10,000 names anew for every stats
 * request costs tens of milliseconds, while keeping the last order costs one pass to drop the
 * vassals that left and a sort only when some arrived (of a list already almost in order).
 */
import type { Vassal } from '../core/vassal.js';
import { byLocale } from './sliced.js';

export class NameOrder {
  private order: Vassal[] = [];

  sorted(current: ReadonlyMap<string, Vassal>): Vassal[] {
    const next: Vassal[] = [];
    const kept = new Set<Vassal>();
    for (const v of this.order) {
      if (current.get(v.name) !== v) continue;
      next.push(v);
      kept.add(v);
    }
    if (next.length !== current.size) {
      for (const v of current.values()) if (!kept.has(v)) next.push(v);
      next.sort((a, b) => byLocale(a.name, b.name));
    }
    this.order = next;
    return next;
  }
}
