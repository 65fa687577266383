/**
 * `spawn`: a config file created in the watched directory (atomic rename) until the emperor says
 * the vassal is ready, for a vassal whose program is ready at once. Run with the default options
 * and with `--settle 0`, since the settle time (a file must stay unchanged this long before it is
 * read) is by design part of the spawn latency.
 */
import { spawnOne, removeOne, startDirFleet } from './lib/lifecycle.js';
import { describe, summarize } from './lib/stats.js';
import { figure, type Benchmark, type Figure } from './lib/types.js';

const WARMUP = 3;

const spawnBench: Benchmark = {
  name: 'spawn',
  title: 'Spawn: config file created (atomic rename) → vassal ready, dir monitor',
  async run(ctx) {
    const n = ctx.quick ? 12 : 40;
    const figures: Figure[] = [];
    const notes: string[] = [];
    const variants: Array<{ label: string; options: string[] }> = [
      { label: 'default options', options: [] },
      { label: '--settle 0', options: ['--settle', '0'] },
    ];
    for (const v of variants) {
      const fleet = await startDirFleet(ctx, 'spawn', v.options);
      const total: number[] = [];
      const up: number[] = [];
      const toStart: number[] = [];
      for (let i = 0; i < WARMUP + n; i++) {
        const name = `s${i}.ini`;
        const s = await spawnOne(fleet, name);
        if (i >= WARMUP) {
          total.push(s.total);
          if (s.programUp !== undefined) up.push(s.programUp);
          if (s.toStart !== undefined) toStart.push(s.toStart);
        }
        await removeOne(fleet, name);
      }
      const cmd = fleet.emperor.command;
      const prof = await fleet.finish(`${n} spawns (${v.label})`);
      const t = summarize(total);
      const u = summarize(up);
      const st = summarize(toStart);
      ctx.log(`${v.label}: ${describe(t)}`);
      figures.push(
        figure(`Spawn p50 (${v.label})`, t.p50, 'ms', { target: { op: '<=', value: 10 }, command: cmd, note: describe(t) }),
        figure(`Spawn p95 (${v.label})`, t.p95, 'ms', { target: { op: '<=', value: 25 }, command: cmd }),
        figure(`  of which: rename → ready file written by the program, p50 (${v.label})`, u.p50, 'ms', { command: cmd, note: describe(u) }),
        figure(`  of which: rename → emperor's 'start' event (its clock, ms resolution), p50 (${v.label})`, st.p50, 'ms', { command: cmd, note: describe(st) }),
      );
      if (prof) notes.push(prof);
    }
    notes.push(
      `Method: ${WARMUP} warm-up vassals, then ${n} vassals one after another, each a new file \`sN.ini\` written under a hidden name in the watched directory and renamed (the rename is t0); t1 is the moment the bench reads the emperor's \`ready\` event for it on the emperor's stdout. Each vassal is removed (and awaited until stopped) before the next is created. The program is the ready-at-once one of the baseline benchmark; \`ready = file:…\` is probed by the emperor.`,
      'Reading the breakdown: "rename → start event" is the monitor\'s share (inotify event via chokidar, the settle wait, reading and parsing the file, planning); from there to the ready file is the spawn through the exec helper; from the ready file to the event is the ready probe\'s polling interval plus the event\'s way out through stdout.',
    );
    return { figures, notes };
  },
};

export default spawnBench;
