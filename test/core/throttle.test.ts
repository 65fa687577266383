import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/core/throttle.js';

test('first restart at once, then doubling from throttle up to the cap', () => {
  const b = new Backoff({ throttleMs: 1000, maxThrottleMs: 5000, resetMs: 10_000 });
  let now = 1_000_000;
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    b.started(now);
    now += 10; // crashes right away
    delays.push(b.crashed(now));
  }
  assert.deepEqual(delays, [0, 1000, 2000, 4000, 5000, 5000]);
});

test('a vassal that stayed up for resetMs starts over', () => {
  const b = new Backoff({ throttleMs: 100, maxThrottleMs: 10_000, resetMs: 1000 });
  let now = 0;
  for (let i = 0; i < 4; i++) { b.started(now); now += 5; b.crashed(now); }
  b.started(now);
  now += 1500;
  assert.equal(b.crashed(now), 0);
});
