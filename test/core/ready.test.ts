/**
 * Readiness probes: a ready file is noticed through inotify on its directory (with polling behind
 * it), in a directory made only later, and waiting ends on timeout, abort or a dead worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProbeFailed, waitReady } from '../../src/core/ready.js';
import { watchName, watchedDirCount } from '../../src/core/name-watch.js';
import { waitFor, withTempDir } from '../helpers/wait.js';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('emperor-ready-', fn);

const watchers = watchedDirCount;

test('watchName wakes on the named entry only, and its last stop releases the watch', async () => {
  await withDir(async (dir) => {
    const before = watchers();
    let a = 0;
    let b = 0;
    const stopA = watchName(join(dir, 'a'), () => a++);
    const stopB = watchName(join(dir, 'b'), () => b++);
    assert.ok(stopA && stopB);
    assert.equal(watchers(), before + 1, 'one watch for the directory');
    await writeFile(join(dir, 'a'), '');
    await waitFor(() => a > 0, { what: 'a wake-up for a' });
    assert.equal(b, 0, 'b is not woken by a');
    stopA();
    assert.equal(watchers(), before + 1, 'b still watches');
    stopB();
    assert.equal(watchers(), before, 'released');
    assert.equal(watchName(join(dir, 'missing', 'x'), () => undefined), undefined, 'a missing directory cannot be watched');
  });
});

test('a ready file is seen as soon as it is made, and the watch is released', async () => {
  await withDir(async (dir) => {
    const before = watchers();
    const path = join(dir, 'READY');
    let done = false;
    const ready = waitReady({ kind: 'file', path }, { signal: new AbortController().signal, timeoutMs: 30_000, stillAlive: () => true }).then(() => (done = true));
    await waitFor(() => watchers() > before, { what: 'the watch of the ready file directory' });
    assert.equal(done, false);
    await writeFile(path, '');
    await ready;
    assert.equal(watchers(), before);
  });
});

test('a ready file in a directory made after the start is still seen', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'later', 'READY');
    const ready = waitReady({ kind: 'file', path }, { signal: new AbortController().signal, timeoutMs: 30_000, stillAlive: () => true });
    await mkdir(join(dir, 'later'));
    await writeFile(path, '');
    await ready;
  });
});

test('waiting for a ready file ends on timeout, abort and a dead worker, releasing the watch', async () => {
  await withDir(async (dir) => {
    const before = watchers();
    const path = join(dir, 'READY');
    await assert.rejects(waitReady({ kind: 'file', path }, { signal: new AbortController().signal, timeoutMs: 100, stillAlive: () => true }), (e: unknown) => e instanceof ProbeFailed && /not ready after 100 ms/.test(e.message));

    const ac = new AbortController();
    const aborted = waitReady({ kind: 'file', path }, { signal: ac.signal, timeoutMs: 30_000, stillAlive: () => true });
    ac.abort();
    await assert.rejects(aborted, ProbeFailed);

    let alive = true;
    const dying = waitReady({ kind: 'file', path }, { signal: new AbortController().signal, timeoutMs: 30_000, stillAlive: () => alive });
    alive = false;
    await assert.rejects(dying, (e: unknown) => e instanceof ProbeFailed && /exited/.test(e.message));
    assert.equal(watchers(), before);
  });
});

test('in tyrant mode the file is only seen once the vassal may reach it', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'READY');
    await writeFile(path, '');
    let reachable = false;
    let done = false;
    const ready = waitReady({ kind: 'file', path }, { signal: new AbortController().signal, timeoutMs: 30_000, stillAlive: () => true, mayReach: async () => reachable }).then(() => (done = true));
    await writeFile(path, 'again');
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    reachable = true;
    await ready;
  });
});
