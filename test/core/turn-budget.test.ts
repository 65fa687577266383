/** The turn budget: work goes through at once until it has used a turn's budget, then one per turn. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnBudget } from '../../src/core/turn-budget.js';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Burn the clock, as a vassal start does.
  }
}

test('turn budget: within budget nobody waits', async () => {
  const b = new TurnBudget(50);
  for (let i = 0; i < 5; i++) assert.equal(b.enter(), undefined);
  assert.equal(b.queued, 0);
  await nextTurn();
});

test('turn budget: past it, callers go on one per turn of the loop, in order, with I/O between', async () => {
  const b = new TurnBudget(5);
  const order: string[] = [];
  const jobs = Array.from({ length: 6 }, (_, i) => i);
  // A timer set by the first job stands for I/O that arrives meanwhile: it must not wait for the whole burst.
  let timerAfter = -1;
  // Each job arrives in a callback of its own, as file-system completions do.
  await Promise.all(
    jobs.map(
      (i) =>
        new Promise<void>((done) =>
          setImmediate(async () => {
            await b.enter();
            if (i === 0) setTimeout(() => (timerAfter = order.length), 0);
            order.push(`job ${i}`);
            busy(4);
            done();
          }),
        ),
    ),
  );
  assert.deepEqual(order, jobs.map((i) => `job ${i}`), 'in order of arrival');
  assert.ok(timerAfter >= 1 && timerAfter < jobs.length, `the timer ran during the burst (after ${timerAfter} jobs)`);
  assert.equal(b.queued, 0);
  // The next turn has a fresh budget.
  await nextTurn();
  await nextTurn();
  assert.equal(b.enter(), undefined);
});

test('turn budget: while held, callers go on one per turn even within budget, and all of them do', async () => {
  const b = new TurnBudget(1000);
  const order: string[] = [];
  await b.held(async () => {
    const jobs = [0, 1, 2].map(async (i) => {
      await b.enter();
      order.push(`job ${i}`);
    });
    // The request's own slices: each yield lets at most one job through.
    for (let slice = 0; slice < 3; slice++) {
      order.push(`slice ${slice}`);
      await nextTurn();
    }
    await Promise.all(jobs);
  });
  assert.deepEqual(order, ['slice 0', 'job 0', 'slice 1', 'job 1', 'slice 2', 'job 2']);
  await nextTurn();
  assert.equal(b.enter(), undefined, 'released: within budget again');
});
