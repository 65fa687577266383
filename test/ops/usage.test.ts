/**
 * The background usage sampler: figures of a worker's whole process tree kept in memory, read
 * again while someone asks, and no /proc reading at all once nobody has asked for a while.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { Vassal, WorkerInfo } from '../../src/core/vassal.js';
import { UsageSampler } from '../../src/ops/usage.js';
import { waitFor } from '../helpers/wait.js';

const worker = (pid: number | undefined, startedAt: number | undefined = 1): WorkerInfo => ({ slot: 1, pid, startedAt, ready: true, exiled: false, restartAt: undefined });
const fakeVassal = (workers: () => WorkerInfo[]): Vassal => ({ workers }) as unknown as Vassal;

test('figures of a whole tree are kept, refreshed while asked for, and not read once nobody asks', async () => {
  // sh -> sleep: the figures cover both.
  const root = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore', detached: true });
  const w = worker(root.pid!);
  const sampler = new UsageSampler(() => [fakeVassal(() => [w])], { activeMs: 400 });
  try {
    assert.ok(sampler.sleeping, 'asleep until someone asks');
    await sampler.demand();
    const first = await waitFor(() => sampler.latest([w]).oldest !== undefined && sampler.latest([w]), { what: 'a first figure' });
    assert.ok(first.rss > 0, `rss ${first.rss}`);
    assert.ok(first.cpuSeconds >= 0);
    assert.ok(first.figures[0] !== undefined);

    // Asked again: read again (the figure gets younger).
    const at = first.oldest!;
    const later = await waitFor(async () => {
      await sampler.demand();
      const l = sampler.latest([w]);
      return l.oldest !== undefined && l.oldest > at ? l : undefined;
    }, { what: 'a newer figure while asked for' });
    assert.ok(later.rss > 0);

    // Nobody asks: it falls asleep, and the last figures stay (with their time).
    await waitFor(() => sampler.sleeping, { what: 'the sampler asleep once nobody asks' });
    const kept = sampler.latest([w]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sampler.latest([w]).oldest, kept.oldest, 'asleep: nothing is read');

    // A worker not running, or a pid now used by another start, has no figures (and counts 0).
    const none = sampler.latest([worker(undefined, undefined), worker(root.pid!, 2)]);
    assert.deepEqual(none.figures, [undefined, undefined]);
    assert.equal(none.rss, 0);
    assert.equal(none.oldest, undefined);
  } finally {
    sampler.close();
    process.kill(-root.pid!, 'SIGKILL');
  }
});

test('a gone worker is forgotten at the next pass', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  let workers = [worker(child.pid!)];
  const sampler = new UsageSampler(() => [fakeVassal(() => workers)], { activeMs: 5000 });
  try {
    await waitFor(async () => {
      await sampler.demand();
      return sampler.worker(child.pid!, 1) !== undefined;
    }, { what: 'the worker measured' });
    child.kill('SIGKILL');
    workers = [];
    await waitFor(async () => {
      await sampler.demand();
      return sampler.worker(child.pid!, 1) === undefined;
    }, { what: 'the gone worker forgotten' });
  } finally {
    sampler.close();
    child.kill('SIGKILL');
  }
});
