/**
 * `uwsgi-fleet`: the same 1,000 real uWSGI instances converge under `uwsgi --emperor` and under our
 * emperor, in one run: a cold start (the emperor launched with the files present) and a live drop
 * (the files renamed into a running emperor's directory at once). Done is the moment the last
 * instance's accepting hook writes its ready file (inotify), the same observer for both.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { now, sleep, until } from './lib/clock.js';
import { profileNote } from './lib/cpuprofile.js';
import { EmperorUnderTest } from './lib/emperor.js';
import { AppearanceWatcher, freshDir } from './lib/files.js';
import { processesMatching, procStat } from './lib/proc.js';
import { figure, missing, type Benchmark, type BenchContext, type Figure } from './lib/types.js';
import { UwsgiEmperor } from './lib/uwsgi.js';
import { readyName, uwsgiCommandVassal, uwsgiIni } from './lib/vassals.js';

interface Outcome {
  seconds: number | undefined;
  ready: number;
  command: string;
  /** CPU seconds (user + system) of the emperor process itself, t0 until all ready. */
  emperorCpuS: number | undefined;
  /** With --profile: where our emperor spent its time. */
  profile?: string;
}

type Who = 'uwsgi' | 'ours';

async function one(ctx: BenchContext, base: string, who: Who, mode: 'cold' | 'live', count: number, timeoutMs: number, native: boolean): Promise<Outcome> {
  const tag = `${mode}-${who}`;
  const profileDir = ctx.profile && who === 'ours' ? join(ctx.root, 'bench', 'tmp', 'profiles', `uwsgi-fleet-${tag}-${Date.now()}`) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const dir = join(base, `${tag}-vassals`);
  const staging = join(base, `${tag}-staging`);
  const inis = join(base, `${tag}-inis`);
  const readyDir = join(base, `${tag}-ready`);
  const sockets = join(base, `${tag}-sockets`);
  for (const d of [dir, staging, inis, readyDir, sockets]) mkdirSync(d);
  const watcher = new AppearanceWatcher(readyDir);
  const names = Array.from({ length: count }, (_, i) => `i${String(i).padStart(5, '0')}.ini`);
  const target = mode === 'cold' ? dir : staging;
  for (const n of names) {
    const ini = uwsgiIni(join(sockets, `${n}.sock`), join(readyDir, readyName(n)));
    if (who === 'uwsgi' || native) {
      writeFileSync(join(target, n), ini);
    } else {
      writeFileSync(join(inis, n), ini);
      writeFileSync(join(target, n), uwsgiCommandVassal(join(inis, n), join(readyDir, readyName(n))));
    }
  }
  let stop: () => Promise<void>;
  let command: string;
  let t0: number;
  let pid: number;
  if (who === 'uwsgi') {
    t0 = now();
    const emp = new UwsgiEmperor(ctx, ['--emperor', dir, '--emperor-freq', '1'], base);
    command = emp.command;
    pid = emp.pid;
    stop = () => emp.stop();
  } else {
    t0 = now();
    const emp = await EmperorUnderTest.launch(ctx, { args: [dir], raiseNofile: true, waitStart: mode === 'live', ...(profileDir ? { cpuProfDir: profileDir } : {}) });
    command = emp.command;
    pid = emp.pid;
    stop = async () => {
      await emp.stop(120_000);
    };
  }
  let cpu0 = 0;
  if (mode === 'live') {
    await sleep(2000);
    cpu0 = procStat(pid)?.cpuS ?? Number.NaN;
    t0 = now();
    for (const n of names) renameSync(join(staging, n), join(dir, n));
  }
  const done = await until(() => watcher.count >= count, timeoutMs, 50);
  const seconds = done ? (now() - t0) / 1000 : undefined;
  const cpu1 = procStat(pid)?.cpuS;
  const emperorCpuS = done && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  const ready = watcher.count;
  watcher.close();
  await stop();
  await until(() => processesMatching(sockets).length === 0, 30_000, 100);
  for (const p of processesMatching(sockets)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const profile = profileDir ? profileNote(profileDir, ctx.root, `the ${mode} run of ${count} uWSGI instances`) : undefined;
  return { seconds, ready, command, emperorCpuS, ...(profile ? { profile } : {}) };
}

const uwsgiFleet: Benchmark = {
  name: 'uwsgi-fleet',
  title: 'The same 1,000 real uWSGI instances: uwsgi --emperor vs our emperor',
  heavy: true,
  async run(ctx) {
    const figures: Figure[] = [];
    if (!ctx.features.uwsgi) {
      figures.push(missing('1,000 uWSGI instances converge', 's', 'uwsgi is not installed'));
      return { figures, notes: [] };
    }
    const count = ctx.quick ? 200 : 1000;
    const timeoutMs = 180_000;
    const native = ctx.features.module('src/uwsgi');
    const base = freshDir(ctx, 'uwsgi-fleet');
    const results: Record<string, Outcome> = {};
    for (const mode of ['cold', 'live'] as const) {
      for (const who of ['uwsgi', 'ours'] as const) {
        ctx.log(`${count} uWSGI instances, ${mode}, ${who}…`);
        const r = await one(ctx, base, who, mode, count, timeoutMs, native);
        results[`${mode}-${who}`] = r;
        ctx.log(`  ${r.seconds === undefined ? `only ${r.ready} ready` : `${r.seconds.toFixed(2)} s`}`);
        const label = `${count} uWSGI instances, ${mode === 'cold' ? 'cold start (emperor launched with the files present)' : 'dropped at once into a running emperor'}: ${who === 'uwsgi' ? 'uwsgi --emperor --emperor-freq 1' : `our emperor${native ? ' ([uwsgi] configs)' : ' (command = uwsgi --ini)'}`}`;
        figures.push(figure(label, r.seconds, 's', { command: r.command, status: r.seconds === undefined ? 'unmeasured' : 'info', ...(r.seconds === undefined ? { note: `only ${r.ready} of ${count} ready within ${timeoutMs / 1000} s` } : {}) }));
        figures.push(figure(`    CPU of the ${who === 'uwsgi' ? 'uWSGI emperor' : 'emperor'} process itself meanwhile (user + system; not its vassals)`, r.emperorCpuS, 's', { status: r.emperorCpuS === undefined ? 'unmeasured' : 'info' }));
      }
      const u = results[`${mode}-uwsgi`]?.seconds;
      const o = results[`${mode}-ours`]?.seconds;
      if (o !== undefined && u !== undefined) {
        figures.push(figure(`  ${mode}: our emperor's time as a share of uWSGI's (target: below 100 %)`, (o / u) * 100, '%', { target: { op: '<', value: 100 } }));
      }
    }
    return {
      figures,
      notes: [
        ...Object.values(results).flatMap((r) => (r.profile ? [r.profile] : [])),
        `Method: ${count} instances \`[uwsgi] socket = DIR/NAME.sock, hook-accepting1 = write:READY ok\`, each with its own ready file; done when the bench has seen every ready file appear (inotify). Cold start: t0 just before the emperor process is spawned (for our emperor that includes loading Node and its modules). Live drop: the emperor runs for 2 s on an empty directory, then the files are renamed in from a staging directory in one loop (t0 = first rename). uWSGI runs with \`--emperor-freq 1\`; our emperor with its defaults. ${native ? 'Our emperor reads the very same [uwsgi] files.' : 'Our emperor has no [uwsgi] support in this tree, so it runs `uwsgi --ini FILE` as a command with `ready = file:` on the hook\'s file.'} The share row is our time divided by uWSGI's, in percent.`,
      ],
    };
  },
};

export default uwsgiFleet;
