/** The fleet in name order, kept between stats requests as vassals come and go. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vassal } from '../../src/core/vassal.js';
import { NameOrder } from '../../src/ops/name-order.js';

const fleet = (...names: string[]): Map<string, Vassal> => new Map(names.map((n) => [n, { name: n } as Vassal]));
const names = (vs: readonly Vassal[]): string[] => vs.map((v) => v.name);

test('in localeCompare order as vassals arrive, leave and are replaced', () => {
  const order = new NameOrder();
  const m = fleet('b.ini', 'a.ini', 'C.ini');
  assert.deepEqual(names(order.sorted(m)), ['a.ini', 'b.ini', 'C.ini']);
  m.set('aa.ini', { name: 'aa.ini' } as Vassal);
  m.delete('b.ini');
  assert.deepEqual(names(order.sorted(m)), ['a.ini', 'aa.ini', 'C.ini']);
  // The same name for a new vassal object (destroyed, then announced again).
  const fresh = { name: 'a.ini' } as Vassal;
  m.set('a.ini', fresh);
  const sorted = order.sorted(m);
  assert.deepEqual(names(sorted), ['a.ini', 'aa.ini', 'C.ini']);
  assert.equal(sorted[0], fresh);
  assert.deepEqual(names(order.sorted(new Map())), []);
});
