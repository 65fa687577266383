import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reconciler } from '../../src/core/reconcile.js';
import type { VassalSpec } from '../../src/monitors/types.js';

const spec = (name: string, revision: string, source = 'dir'): VassalSpec => ({ name, source, revision, config: { text: '', format: 'ini' } });

test('snapshots are diffed into add, change and remove', () => {
  const r = new Reconciler();
  assert.deepEqual(r.apply('dir', { type: 'snapshot', specs: [spec('a.ini', '1'), spec('b.ini', '1')] }).map((c) => c.kind), ['add', 'add']);
  assert.deepEqual(r.apply('dir', { type: 'snapshot', specs: [spec('a.ini', '1'), spec('b.ini', '2')] }).map((c) => [c.kind, 'spec' in c ? c.spec.name : c.name]), [['change', 'b.ini']]);
  assert.deepEqual(r.apply('dir', { type: 'snapshot', specs: [spec('b.ini', '2')] }), [{ kind: 'remove', name: 'a.ini' }]);
});

test('an identical upsert is no change (rescans do not reload)', () => {
  const r = new Reconciler();
  assert.equal(r.apply('dir', { type: 'upsert', spec: spec('a.ini', '1') }).length, 1);
  assert.equal(r.apply('dir', { type: 'upsert', spec: spec('a.ini', '1') }).length, 0);
  assert.equal(r.apply('dir', { type: 'snapshot', specs: [spec('a.ini', '1')] }).length, 0);
});

test('an owner change (tyrant uid) counts as a change', () => {
  const r = new Reconciler();
  r.apply('dir', { type: 'upsert', spec: { ...spec('a.ini', '1'), uid: 1000, gid: 1000 } });
  assert.deepEqual(r.apply('dir', { type: 'upsert', spec: { ...spec('a.ini', '1'), uid: 1001, gid: 1000 } }).map((c) => c.kind), ['change']);
});

test('a name belongs to the monitor that announced it first', () => {
  const r = new Reconciler();
  r.apply('dir:/a', { type: 'upsert', spec: spec('x.ini', '1', 'dir:/a') });
  const c = r.apply('dir:/b', { type: 'upsert', spec: spec('x.ini', '1', 'dir:/b') });
  assert.equal(c[0]?.kind, 'conflict');
  // The other monitor's snapshot without it removes nothing of the owner's.
  assert.deepEqual(r.apply('dir:/b', { type: 'snapshot', specs: [] }), []);
  assert.deepEqual(r.apply('dir:/a', { type: 'remove', name: 'x.ini' }), [{ kind: 'remove', name: 'x.ini' }]);
});

test('errors change nothing, and a remove of an unknown name is ignored', () => {
  const r = new Reconciler();
  r.apply('dir', { type: 'upsert', spec: spec('a.ini', '1') });
  assert.deepEqual(r.apply('dir', { type: 'error', error: new Error('boom') }), []);
  assert.deepEqual(r.apply('dir', { type: 'remove', name: 'nope.ini' }), []);
});
