/** A vassal's recent lines (`emperor logs`), fed whole blocks of lines as a burst delivers them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecentLines } from '../../src/core/recent-lines.js';

const block = (lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\n`).join(''));

test('keeps the last `capacity` lines across blocks and single lines, oldest first', () => {
  const r = new RecentLines(5);
  assert.deepEqual(r.toArray(), []);
  r.pushBlock(1, 10, block(['a', 'b']));
  r.push({ time: 2, pid: 11, line: 'c' });
  assert.deepEqual(r.toArray(), [
    { time: 1, pid: 10, line: 'a' },
    { time: 1, pid: 10, line: 'b' },
    { time: 2, pid: 11, line: 'c' },
  ]);
  r.pushBlock(3, 10, block(['d', 'é', '']));
  assert.deepEqual(r.toArray().map((l) => l.line), ['b', 'c', 'd', 'é', '']);
  assert.equal(r.size, 5);
  assert.equal(r.capacity, 5);
});

test('a burst larger than the capacity leaves only its last lines', () => {
  const r = new RecentLines(500);
  for (let b = 0; b < 50; b++) r.pushBlock(b, 1, block(Array.from({ length: 700 }, (_, i) => `${b}:${i} ${'x'.repeat(60)}`)));
  const lines = r.toArray();
  assert.equal(lines.length, 500);
  assert.equal(lines[0]!.line.split(' ')[0], '49:200');
  assert.equal(lines[499]!.line.split(' ')[0], '49:699');
});

test('capacity 0 keeps nothing', () => {
  const r = new RecentLines(0);
  r.pushBlock(1, 1, block(['a']));
  r.push({ time: 1, pid: 1, line: 'b' });
  assert.deepEqual(r.toArray(), []);
  assert.equal(r.size, 0);
});
