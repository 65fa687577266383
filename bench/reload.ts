/**
 * `reload`: touching a vassal's config (new mtime) until the new worker is ready, with
 * `reload = restart` (stop the old worker, start a new one). Also counts the processes left in
 * the emperor's tree afterwards: a reload must not leave a worker behind.
 */
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, now } from './lib/clock.js';
import { removeOne, spawnOne, startDirFleet } from './lib/lifecycle.js';
import { alive, descendants } from './lib/proc.js';
import { describe, summarize } from './lib/stats.js';
import { figure, type Benchmark, type Figure } from './lib/types.js';
import { readyName, readyPath } from './lib/vassals.js';

const WARMUP = 3;

const reload: Benchmark = {
  name: 'reload',
  title: 'Reload: config touched → new worker ready (reload = restart)',
  async run(ctx) {
    const n = ctx.quick ? 12 : 40;
    const fleet = await startDirFleet(ctx, 'reload');
    const name = 'r.ini';
    const first = await spawnOne(fleet, name, 'reload = restart\n');
    let pids = first.ready.rec.pids ?? [];
    const perWorker = 1 + descendants(pids[0]!).length;
    const total: number[] = [];
    let oldStillAlive = 0;
    for (let i = 0; i < WARMUP + n; i++) {
      // The new worker must write the ready file again: without this the probe would pass at once.
      rmSync(readyPath(fleet.readyDir, name), { force: true });
      fleet.ready.forget(readyName(name));
      const prev = pids;
      const next = fleet.emperor.next(name, 'ready', 30_000, (r) => (r.pids ?? []).some((p) => !prev.includes(p)));
      const t0 = now();
      const when = new Date();
      utimesSync(join(fleet.dir, name), when, when);
      const r = await next;
      if (i >= WARMUP) total.push(r.at - t0);
      if (prev.some(alive)) oldStillAlive++;
      pids = r.rec.pids ?? [];
      // Past chokidar's 50 ms per-file change throttle, so every touch is a fresh event.
      await sleep(100);
    }
    await sleep(500);
    const workersNow = descendants(fleet.emperor.pid).length;
    const leftover = Math.max(0, workersNow - perWorker);
    await removeOne(fleet, name);
    const cmd = fleet.emperor.command;
    const prof = await fleet.finish(`${n} reloads`);
    const t = summarize(total);
    ctx.log(`reload: ${describe(t)}; processes beyond the one worker: ${leftover}`);
    const figures: Figure[] = [
      figure('Reload p50 (touch → new worker ready)', t.p50, 'ms', { target: { op: '<=', value: 30 }, command: cmd, note: describe(t) }),
      figure('Reload p95', t.p95, 'ms', { command: cmd }),
      figure(`Processes left in the emperor's tree beyond the one worker after ${WARMUP + n} reloads`, leftover, 'processes', { target: { op: '<=', value: 0 }, command: cmd, note: `a worker is ${perWorker} process${perWorker === 1 ? '' : 'es'} (exec helper, namespace init, program as root); old worker still alive when the new one was ready: ${oldStillAlive} times` }),
    ];
    const notes = [
      `Method: one vassal \`r.ini\` (ready-at-once program, \`reload = restart\`). Per iteration the bench deletes the ready file, sets the config's mtime to now (t0) and waits for a \`ready\` event naming a new pid (t1); then 100 ms pause, so chokidar's 50 ms per-file change throttle never merges two touches. ${WARMUP} warm-up reloads are not counted.`,
    ];
    if (prof) notes.push(prof);
    return { figures, notes };
  },
};

export default reload;
