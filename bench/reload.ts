/**
 * `reload`: touching a vassal's config (new mtime) until the new worker is ready, with
 * `reload = restart` (stop the old worker, start a new one), with the default options and with
 * `--settle 0`. Also counts the processes left in the emperor's tree afterwards: a reload must not
 * leave a worker behind.
 */
import { rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, now } from './lib/clock.js';
import { removeOne, spawnOne, startDirFleet } from './lib/lifecycle.js';
import { alive, descendants, vassalProcesses } from './lib/proc.js';
import { describe, summarize } from './lib/stats.js';
import { figure, type Benchmark, type BenchContext, type Figure } from './lib/types.js';
import { readyName, readyPath } from './lib/vassals.js';

const WARMUP = 3;

async function reloads(ctx: BenchContext, n: number, options: string[], label: string): Promise<{ figures: Figure[]; notes: string[] }> {
  const fleet = await startDirFleet(ctx, 'reload', options);
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
  const leftover = Math.max(0, vassalProcesses(fleet.emperor.pid).length - perWorker);
  await removeOne(fleet, name);
  const cmd = fleet.emperor.command;
  const prof = await fleet.finish(`${n} reloads (${label})`);
  const t = summarize(total);
  ctx.log(`reload (${label}): ${describe(t)}; processes beyond the one worker: ${leftover}`);
  return {
    figures: [
      figure(`Reload p50, touch → new worker ready (${label})`, t.p50, 'ms', { target: { op: '<=', value: 30 }, command: cmd, note: describe(t) }),
      figure(`Reload p95 (${label})`, t.p95, 'ms', { command: cmd }),
      figure(`Processes left beyond the one worker after ${WARMUP + n} reloads (${label})`, leftover, 'processes', { target: { op: '<=', value: 0 }, command: cmd, note: `a worker is ${perWorker} process${perWorker === 1 ? '' : 'es'} (exec helper, namespace init, program as root); old worker still alive when the new one was ready: ${oldStillAlive} times` }),
    ],
    notes: prof ? [prof] : [],
  };
}

const reload: Benchmark = {
  name: 'reload',
  title: 'Reload: config touched → new worker ready (reload = restart)',
  async run(ctx) {
    const n = ctx.quick ? 12 : 40;
    const figures: Figure[] = [];
    const notes: string[] = [
      `Method: one vassal \`r.ini\` (ready-at-once program, \`reload = restart\`). Per iteration the bench deletes the ready file, sets the config's mtime to now (t0) and waits for a \`ready\` event naming a new pid (t1); then 100 ms pause, so chokidar's 50 ms per-file change throttle never merges two touches. ${WARMUP} warm-up reloads are not counted. Afterwards the processes below the emperor are counted (tsx's esbuild service aside, with BENCH_EMPEROR=tsx): anything beyond the one worker is a leak.`,
    ];
    for (const [options, label] of [[[], 'default options'], [['--settle', '0'], '--settle 0']] as const) {
      const r = await reloads(ctx, n, [...options], label);
      figures.push(...r.figures);
      notes.push(...r.notes);
    }
    return { figures, notes };
  },
};

export default reload;
