/**
 * `destroy`: a vassal's config unlinked until every process of the vassal is gone (a program that
 * exits on SIGTERM). The end is the later of the emperor's `stopped` event and the last of the
 * worker's processes (found in /proc before the unlink) disappearing.
 */
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { now, sleep } from './lib/clock.js';
import { spawnOne, startDirFleet } from './lib/lifecycle.js';
import { alive, descendants } from './lib/proc.js';
import { describe, summarize } from './lib/stats.js';
import { figure, type Benchmark } from './lib/types.js';

const WARMUP = 3;

const destroy: Benchmark = {
  name: 'destroy',
  title: 'Destroy: config unlinked → all its processes gone',
  async run(ctx) {
    const n = ctx.quick ? 12 : 40;
    const fleet = await startDirFleet(ctx, 'destroy');
    const total: number[] = [];
    const decide: number[] = [];
    let lingering = 0;
    for (let i = 0; i < WARMUP + n; i++) {
      const name = `d${i}.ini`;
      const s = await spawnOne(fleet, name);
      const h = s.ready.rec.pids ?? [];
      const tree = [...h, ...h.flatMap((p) => descendants(p))];
      // A vassal that has been running a while: the monitor's follow-up of the file's creation
      // (a re-check 60 ms after the event) is over, as it is for any vassal but a brand-new one.
      await sleep(200);
      const stopEvent = fleet.emperor.next(name, 'stop', 30_000);
      const stopped = fleet.emperor.next(name, 'stopped', 30_000);
      const t0 = now();
      unlinkSync(join(fleet.dir, name));
      const st = await stopEvent;
      const a = await stopped;
      let end = a.at;
      if (tree.some(alive)) {
        lingering++;
        while (tree.some(alive)) await sleep(1);
        end = now();
      }
      if (i >= WARMUP) {
        total.push(end - t0);
        decide.push(st.at - t0);
      }
    }
    const cmd = fleet.emperor.command;
    const prof = await fleet.finish(`${n} destroys`);
    const t = summarize(total);
    const d = summarize(decide);
    ctx.log(`destroy: ${describe(t)}`);
    const notes = [
      `Method: per iteration one vassal is created and awaited until ready, its process tree (exec helper, namespace init, program) read from /proc; 200 ms later (so the monitor's follow-up of the creation is over, as for any vassal but a brand-new one) its config is unlinked (t0). t1 is the later of the \`stopped\` event and the moment none of those processes exists any more (processes outlived the event ${lingering} times). ${WARMUP} warm-up vassals are not counted.`,
    ];
    if (prof) notes.push(prof);
    return {
      figures: [
        figure('Destroy p50 (unlink → all processes gone)', t.p50, 'ms', { target: { op: '<=', value: 30 }, command: cmd, note: describe(t) }),
        figure('Destroy p95', t.p95, 'ms', { command: cmd }),
        figure("  of which: unlink → emperor's 'stop' event (the monitor deciding the file is gone), p50", d.p50, 'ms', { command: cmd, note: describe(d) }),
      ],
      notes,
    };
  },
};

export default destroy;
