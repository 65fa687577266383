/**
 * `memory-alarm`: a vassal's cgroup memory usage crosses its `alarm-memory` threshold until the
 * alarm's command starts. The vassal (bench/fixtures/mem-step.mjs) first fills memory to just
 * below the threshold, then, timed, a few MiB more to just past it, and stamps the start and end
 * of that second fill; the crossing moment is interpolated within it (usage grows linearly as
 * pages are touched, and the fill lasts a few milliseconds, so the estimate cannot stray far).
 * The command is `cat > DIR/fired`, whose file appears the moment its shell starts (inotify).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { now, sleep, until } from './lib/clock.js';
import { EmperorUnderTest } from './lib/emperor.js';
import { AppearanceWatcher, atomicWrite, freshDir } from './lib/files.js';
import { describe, summarize } from './lib/stats.js';
import { figure, missing, type Benchmark, type BenchContext, type Figure } from './lib/types.js';

const MB = 1024 * 1024;
const THRESHOLD = 96 * MB;
const TARGET = { op: '<=' as const, value: 10 };
const LABEL = 'cgroup memory threshold crossed → alarm command started, p50';

interface Stamp {
  /** The first fill already took usage past the threshold: no crossing to time. */
  over?: number;
  tb?: number;
  ta?: number;
  u0?: number;
  size?: number;
  threshold?: number;
  cgroup?: string;
  down?: number;
}

function stamps(file: string): Stamp[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Stamp);
  } catch {
    return [];
  }
}

/** Removes the cgroup root the emperor made under every controller, once it is empty. */
function removeCgroupRoot(root: string): void {
  for (const ctrl of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', ctrl, root);
    if (!existsSync(dir)) continue;
    for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) rmdirIfEmpty(join(dir, sub.name));
    rmdirIfEmpty(dir);
  }
}

function rmdirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // busy or already gone
  }
}

/**
 * What a move into a cgroup costs on this host: the alarm command's exec helper joins the vassal's
 * cgroup before the command runs. A process is moved back and forth between two cgroups of the
 * memory controller, a quarter of a second apart (a migration right after another is cheaper: the
 * kernel's cgroup lock is still in its writer mode then, as it is not when an alarm fires).
 */
async function cgroupMoveCost(ctx: BenchContext, n: number): Promise<number[] | undefined> {
  const base = `/sys/fs/cgroup/memory/emperor-bench-move-${process.pid}`;
  if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs')) return undefined;
  const dirs = [join(base, 'a'), join(base, 'b')];
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const removeAll = (): void => {
    child.kill('SIGKILL');
    for (const d of [...dirs, base]) rmdirIfEmpty(d);
  };
  ctx.cleanup.add(`remove ${base}`, removeAll);
  const costs: number[] = [];
  try {
    for (const d of dirs) mkdirSync(d, { recursive: true });
    for (let i = 0; i < n; i++) {
      await sleep(250);
      const t = now();
      writeFileSync(join(dirs[i % 2]!, 'cgroup.procs'), String(child.pid));
      costs.push(now() - t);
    }
  } finally {
    child.kill('SIGKILL');
    await until(() => !dirs.some((d) => readFileSync(join(d, 'cgroup.procs'), 'utf8').trim() !== ''), 2000, 10).catch(() => false);
    removeAll();
  }
  return costs;
}

async function measure(ctx: BenchContext, n: number): Promise<{ samples: number[]; upper: number[]; fills: number[]; untimed: number; command: string } | { error: string }> {
  const base = freshDir(ctx, 'memalarm');
  const dir = join(base, 'vassals');
  const firedDir = join(base, 'fired');
  mkdirSync(dir);
  mkdirSync(firedDir);
  const fifo = join(base, 'cmd.fifo');
  execFileSync('mkfifo', [fifo]);
  const stampFile = join(base, 'stamps.jsonl');
  const readyFile = join(base, 'ready');
  const watcher = new AppearanceWatcher(firedDir);
  ctx.cleanup.add('close watcher', () => watcher.close());
  const root = `emperor-bench-${process.pid}`;
  ctx.cleanup.add(`remove cgroups ${root}`, () => removeCgroupRoot(root));
  const emperor = await EmperorUnderTest.launch(ctx, { args: [dir, '--cgroup-root', root] });
  const started = emperor.readyOrFailure('mem.ini', 30_000);
  const fixture = join(ctx.root, 'bench', 'fixtures', 'mem-step.mjs');
  atomicWrite(
    dir,
    'mem.ini',
    `[vassal]\ncommand = ${process.execPath} --expose-gc ${fixture} ${fifo} ${stampFile} ${readyFile} ${THRESHOLD}\nenv = CGROUP=%(cgroup)\ncgroup = mem-%n\nalarm = mem cmd:cat > ${firedDir}/fired\nalarm-memory = mem ${THRESHOLD}\nalarm-freq = 0\nready = file:${readyFile}\n`,
  );
  const outcome = await started;
  if ('error' in outcome) return { error: `the vassal did not start: ${outcome.error}` };
  const cgroup = stamps(stampFile)[0]?.cgroup;
  if (!cgroup) return { error: 'the vassal could not read its cgroup' };
  const usage = (): number => Number(readFileSync(join(cgroup, 'memory.usage_in_bytes'), 'utf8'));
  let fd = -1;
  for (let i = 0; i < 500 && fd < 0; i++) {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      await sleep(10);
    }
  }
  if (fd < 0) return { error: 'the vassal never opened its command fifo' };
  const samples: number[] = [];
  const upper: number[] = [];
  const fills: number[] = [];
  let untimed = 0;
  try {
    // Any firing at start (usage already above) is past; the first measured one is a fresh crossing.
    await sleep(300);
    for (let i = 0; i < n + 2; i++) {
      if (!(await until(() => usage() < THRESHOLD * 0.85, 5000, 10))) return { error: `the cgroup's usage stays above the re-arm level (${(usage() / MB).toFixed(0)} MiB)` };
      await sleep(50);
      const before = stamps(stampFile).length;
      rmSync(join(firedDir, 'fired'), { force: true });
      watcher.forget('fired');
      const fired = watcher.when('fired', i === 0 ? 5000 : 10_000);
      writeSync(fd, 'up\n');
      let got: { at: number };
      try {
        got = { at: await fired };
      } catch {
        if (i === 0) return { error: 'crossing the threshold started no alarm command within 5 s' };
        throw new Error(`memory alarm ${i} did not fire within 10 s`);
      }
      await until(() => stamps(stampFile).length > before, 5000, 5);
      const s = stamps(stampFile)[before];
      if (s?.tb !== undefined && s.ta !== undefined && s.u0 !== undefined && s.size !== undefined) {
        const f = Math.min(1, Math.max(0, (THRESHOLD - s.u0) / s.size));
        const cross = s.tb + f * (s.ta - s.tb);
        if (i >= 2) {
          samples.push(got.at - cross);
          upper.push(got.at - s.tb);
          fills.push(s.ta - s.tb);
        }
      } else if (s?.over !== undefined && i >= 2) {
        untimed++;
      }
      writeSync(fd, 'down\n');
      await sleep(100);
    }
  } finally {
    closeSync(fd);
  }
  const command = emperor.command;
  await emperor.stop();
  return { samples, upper, fills, untimed, command };
}

const memoryAlarm: Benchmark = {
  name: 'memory-alarm',
  title: 'Memory alarm: cgroup threshold crossed → alarm command started',
  async run(ctx) {
    const figures: Figure[] = [];
    if (!ctx.features.module('src/isolation') || !ctx.features.module('plugins/cgroup-eventfd')) {
      figures.push(missing(LABEL, 'ms', 'cgroups (src/isolation) or the cgroup-eventfd plugin do not exist yet', { target: TARGET, unavailable: true }));
      return { figures, notes: [] };
    }
    if (!ctx.features.hasOption('--cgroup-root')) {
      figures.push(missing(LABEL, 'ms', '`emperor --help` offers no --cgroup-root: cgroups are not wired into the CLI', { target: TARGET }));
      return { figures, notes: [] };
    }
    if (!existsSync('/sys/fs/cgroup/memory/cgroup.event_control') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      figures.push(missing(LABEL, 'ms', 'no cgroup memory controller on this host', { target: TARGET }));
      return { figures, notes: [] };
    }
    const r = await measure(ctx, ctx.quick ? 10 : 30);
    if ('error' in r) {
      figures.push(missing(LABEL, 'ms', r.error, { target: TARGET }));
      return { figures, notes: [] };
    }
    const moves = await cgroupMoveCost(ctx, ctx.quick ? 6 : 12);
    const s = summarize(r.samples);
    const u = summarize(r.upper);
    const f = summarize(r.fills);
    ctx.log(`memory alarm: ${describe(s)}; timed fill ${describe(f)}${r.untimed > 0 ? `; ${r.untimed} rounds untimed (the first fill overshot)` : ''}`);
    figures.push(
      figure(LABEL, s.p50, 'ms', { target: TARGET, command: r.command, note: describe(s) }),
      figure('  p95', s.p95, 'ms', { command: r.command }),
      figure('  upper bound (from the start of the timed fill), p50', u.p50, 'ms', { command: r.command, note: describe(u) }),
      figure('  timed fill (the window the crossing is interpolated in), p50', f.p50, 'ms', { command: r.command, note: `${describe(f)}${r.untimed > 0 ? `; ${r.untimed} rounds untimed: the first fill already overshot` : ''}` }),
    );
    if (moves !== undefined) {
      const m = summarize(moves);
      ctx.log(`cgroup move: ${describe(m)}`);
      figures.push(figure("  kernel: moving a process into a cgroup (what a command would wait for without the standby), p50", m.p50, 'ms', { note: `${describe(m)}; measured apart, 250 ms after the previous move` }));
    }
    return {
      figures,
      notes: [
        `Method: a vassal in cgroup \`mem-mem\` (under a --cgroup-root of its own, removed afterwards) with \`alarm-memory = mem ${THRESHOLD / MB}M\`, \`alarm-freq = 0\` and \`alarm = mem cmd:cat > DIR/fired\` (the bench removes the file before each crossing). On each "up" the vassal fills memory, untimed, to 2 MiB below the threshold (crossing the 90 % re-arm level on the way), waits 50 ms, reads its usage and fills a second buffer that takes it 2 MiB past the threshold, stamping the start and end of that fill (a few ms); the crossing is interpolated linearly within it. t1 is the moment the command's file appears (inotify). Between crossings the vassal frees both buffers and the bench waits until usage is below the re-arm level. 2 warm-up crossings are not counted; the upper bound row counts from the start of the timed fill instead. The kernel checks thresholds every 128 pages charged on a CPU (512 KiB), a fraction of a millisecond of this fill. The command is held in the vassal's cgroup: its exec helper writes itself to the cgroup's cgroup.procs before the command runs. On cgroup v1 a move waits for an RCU grace period (the kernel's cgroup_threadgroup_rwsem switching to its writer mode) unless a move happened just before or the hierarchy is mounted with favordynmods (after which a Linux 6.18 kernel keeps the faster mode until reboot); the kernel row measures that move on this host, apart from the alarm. The emperor pays it ahead: each such cmd: action keeps its next process waiting in the cgroup (emperor-exec --hold-fd), and a firing only lets it go on.`,
      ],
    };
  },
};

export default memoryAlarm;
