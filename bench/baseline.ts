/**
 * `baseline`: how fast the vassal programs themselves start, with no emperor in between. The spawn
 * targets count "emperor latency + program start"; this separates the second part out. Each
 * candidate is spawned from Node (as the emperor spawns) until its ready file appears (inotify),
 * bare and through the exec helper the emperor puts in front of every worker (its own process
 * group, pid namespace as root, parent-death signal).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killGroup } from './lib/cleanup.js';
import { now, sleep } from './lib/clock.js';
import { AppearanceWatcher, freshDir } from './lib/files.js';
import { describe, summarize } from './lib/stats.js';
import { figure, type Benchmark, type BenchContext, type Figure } from './lib/types.js';
import { uwsgiIni } from './lib/vassals.js';

interface Candidate {
  label: string;
  argv: (readyFile: string, i: number) => string[];
  needs?: 'uwsgi';
}

function helperPath(root: string): string {
  return join(root, 'src/native/build/Release/emperor-exec');
}

async function sample(ctx: BenchContext, dir: string, watcher: AppearanceWatcher, c: Candidate, viaHelper: boolean, n: number): Promise<number[]> {
  const out: number[] = [];
  const isRoot = process.getuid?.() === 0;
  for (let i = 0; i < n; i++) {
    const name = `${c.label.replace(/\W+/g, '_')}-${viaHelper ? 'h' : 'b'}-${i}.ready`;
    const file = join(dir, name);
    const [program, ...args] = c.argv(file, i);
    const file0 = viaHelper ? helperPath(ctx.root) : program!;
    const argv = viaHelper ? ['--merge-stderr', ...(isRoot ? ['--pidns'] : []), '--parent', String(process.pid), '--', program!, ...args] : args;
    const appeared = watcher.when(name, 10_000);
    const t0 = now();
    const child = spawn(file0, argv, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    child.stdout?.resume();
    ctx.cleanup.trackGroup(child.pid!);
    const t1 = await appeared;
    out.push(t1 - t0);
    killGroup(child.pid!, 'SIGKILL');
    ctx.cleanup.untrackGroup(child.pid!);
    await new Promise((r) => child.once('exit', r));
    await sleep(20);
  }
  return out;
}

const baseline: Benchmark = {
  name: 'baseline',
  title: 'Program start without an emperor (what the spawn figures contain besides the emperor)',
  async run(ctx) {
    const n = ctx.quick ? 10 : 30;
    const dir = freshDir(ctx, 'baseline');
    const watcher = new AppearanceWatcher(dir);
    ctx.cleanup.add('close watcher', () => watcher.close());
    const candidates: Candidate[] = [
      { label: 'dash builtin, then exec sleep', argv: (f) => ['/bin/sh', '-c', `: > ${f}; exec sleep 100000`] },
      { label: 'sh + touch, then exec sleep', argv: (f) => ['/bin/sh', '-c', `touch ${f}; exec sleep 100000`] },
      {
        label: 'uwsgi (no app, unix socket, accepting hook)',
        needs: 'uwsgi',
        argv: (f, i) => {
          const ini = join(dir, `u${i}-${Math.random().toString(36).slice(2, 8)}.ini`);
          writeFileSync(ini, uwsgiIni(join(dir, `u${i}.sock`), f));
          return ['uwsgi', '--ini', ini];
        },
      },
    ];
    const figures: Figure[] = [];
    const notes: string[] = [];
    for (const c of candidates) {
      if (c.needs === 'uwsgi' && !ctx.features.uwsgi) {
        figures.push(figure(`${c.label}: spawn → ready file, p50`, undefined, 'ms', { status: 'unmeasured', note: 'uwsgi is not installed' }));
        continue;
      }
      for (const viaHelper of [false, true]) {
        const s = summarize(await sample(ctx, dir, watcher, c, viaHelper, n));
        const how = viaHelper ? 'through emperor-exec' : 'bare';
        figures.push(figure(`${c.label}, ${how}: spawn → ready file, p50`, s.p50, 'ms', { note: describe(s) }));
        ctx.log(`${c.label} (${how}): ${describe(s)}`);
      }
    }
    notes.push(
      'The ready-at-once program of every native-vassal benchmark is the first candidate, `/bin/sh -c \': > READY; exec sleep 100000\'`: dash creates the file with a builtin redirection (no fork, no second program) and then becomes `sleep`, which dies on SIGTERM. A static binary would save the dynamic loading of dash, about a millisecond; `/usr/bin/touch` alone cannot serve, since it exits and an exiting worker is a crash. The spawn figures of the emperor include this start time (the "bare" row) plus the emperor\'s own work.',
      'The exec helper row shows what `emperor-exec` adds: as root it unshares a pid namespace and forks twice (the namespace init and the program), so that nothing a worker forks outlives it.',
    );
    return { figures, notes };
  },
};

export default baseline;
