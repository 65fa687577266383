import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StormGuard, capMessage } from '../../src/alarms/storm.js';

test('the same message within alarm-freq fires once, then again after the window', () => {
  let now = 1_000_000;
  const g = new StormGuard({ freqMs: 3000, ratePerMinute: 0, now: () => now });
  assert.equal(g.admit('boom'), 'fire');
  for (let i = 0; i < 999; i++) assert.equal(g.admit('boom'), 'duplicate');
  assert.equal(g.admit('other'), 'fire', 'a different message fires at once');
  assert.equal(g.admit('boom'), 'fire', 'the window compares with the previous message only, as uWSGI');
  now += 2999;
  assert.equal(g.admit('boom'), 'duplicate');
  now += 1;
  assert.equal(g.admit('boom'), 'fire');
});

test('alarm-freq 0 turns the window off', () => {
  const g = new StormGuard({ freqMs: 0, ratePerMinute: 0 });
  assert.equal(g.admit('x'), 'fire');
  assert.equal(g.admit('x'), 'fire');
});

test('alarm-rate caps firings per minute and reports what it held back when the minute ends', () => {
  let now = 0;
  const reports: number[] = [];
  const g = new StormGuard({ freqMs: 3000, ratePerMinute: 5, now: () => now, onRateReport: (n) => reports.push(n) });
  const verdicts = Array.from({ length: 20 }, (_, i) => g.admit(`message ${i}`));
  assert.deepEqual(verdicts.filter((v) => v === 'fire').length, 5);
  assert.deepEqual(verdicts.filter((v) => v === 'rate').length, 15);
  assert.equal(g.pendingSuppressed, 15);
  now = 60_000;
  assert.equal(g.admit('new minute'), 'fire');
  assert.deepEqual(reports, [15]);
  assert.equal(g.flush(), 0);
});

test('the rate report comes by timer when the minute ends without further firings', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const reports: number[] = [];
  const g = new StormGuard({ freqMs: 0, ratePerMinute: 1, onRateReport: (n) => reports.push(n) });
  assert.equal(g.admit('a'), 'fire');
  assert.equal(g.admit('b'), 'rate');
  assert.equal(g.admit('c'), 'rate');
  t.mock.timers.tick(59_999);
  assert.deepEqual(reports, []);
  t.mock.timers.tick(1);
  assert.deepEqual(reports, [2]);
});

test('capMessage leaves short messages alone and says when it cuts', () => {
  assert.equal(capMessage('short', 100), 'short');
  const long = 'x'.repeat(10_000);
  const cut = capMessage(long, 200);
  assert.ok(Buffer.byteLength(cut) <= 200, `${Buffer.byteLength(cut)} bytes`);
  assert.match(cut, /\[truncated: 10000 bytes, alarm-msg-size 200\]$/);
  assert.ok(cut.startsWith('xxxxxxxx'));
});

test('capMessage cuts UTF-8 on a character boundary', () => {
  const msg = 'é'.repeat(500); // 1000 bytes
  const cut = capMessage(msg, 120);
  assert.ok(Buffer.byteLength(cut) <= 120);
  assert.ok(!cut.includes('\uFFFD'), 'no broken character');
  assert.match(cut, /^é+ \[truncated: 1000 bytes/);
});

test('capMessage with a size below its own note keeps only the note', () => {
  assert.equal(capMessage('x'.repeat(100), 10), ' [truncated: 100 bytes, alarm-msg-size 10]');
});
