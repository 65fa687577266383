import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionLane, runBounded } from '../../src/alarms/queue.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';

const never = (): Promise<void> => new Promise(() => {});

test('runBounded rejects with a timeout error and aborts the task signal', async () => {
  let aborted: AbortSignal | undefined;
  const started = Date.now();
  await assert.rejects(
    runBounded((signal) => {
      aborted = signal;
      return never();
    }, 100, new AbortController().signal),
    (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.ALARM_ACTION && /timed out after 100 ms/.test(err.message),
  );
  assert.ok(aborted?.aborted);
  assert.ok(Date.now() - started < 5000);
});

test('runBounded settles when the parent aborts', async () => {
  const parent = new AbortController();
  const p = runBounded(() => never(), 60_000, parent.signal);
  parent.abort(new Error('closing'));
  await assert.rejects(p, /closing/);
});

test('runBounded passes a task failure through', async () => {
  await assert.rejects(runBounded(() => Promise.reject(new Error('HTTP 500')), 1000, new AbortController().signal), /HTTP 500/);
  await assert.rejects(runBounded(() => { throw new Error('sync'); }, 1000, new AbortController().signal), /sync/);
});

test('a lane runs one at a time, in order, and moves on past a hanging run at its deadline', async () => {
  const ac = new AbortController();
  const lane = new ActionLane({ signal: ac.signal });
  const order: string[] = [];
  let active = 0;
  let maxActive = 0;
  const job = (name: string, ms: number) => async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    order.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    order.push(`end ${name}`);
    active--;
  };
  const hang = lane.tryPush(() => never(), 200);
  const a = lane.tryPush(job('a', 20), 5000);
  const b = lane.tryPush(job('b', 5), 5000);
  assert.ok(hang && a && b);
  await assert.rejects(hang, /timed out/);
  await a;
  await b;
  assert.deepEqual(order, ['start a', 'end a', 'start b', 'end b']);
  assert.equal(maxActive, 1);
  ac.abort();
});

test('a full lane refuses, and a closed lane rejects what waits', async () => {
  const ac = new AbortController();
  const lane = new ActionLane({ signal: ac.signal, maxPending: 2 });
  const running = lane.tryPush(() => never(), 60_000);
  await new Promise((r) => setImmediate(r));
  const w1 = lane.tryPush(() => Promise.resolve(), 1000);
  const w2 = lane.tryPush(() => Promise.resolve(), 1000);
  assert.equal(lane.tryPush(() => Promise.resolve(), 1000), undefined);
  ac.abort(new Error('vassal stopped'));
  await assert.rejects(running!, /vassal stopped/);
  await assert.rejects(w1!, /vassal stopped/);
  await assert.rejects(w2!, /vassal stopped/);
  await lane.idle();
  assert.equal(lane.tryPush(() => Promise.resolve(), 1000), undefined);
});
