/**
 * A fleet at once: N vassal files renamed into a running emperor's directory in one burst, until
 * every one is ready; then the emperor's footprint at rest (RSS, idle CPU), its stats answers
 * meanwhile, its shutdown, and optionally a cold start with the N files already there.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { profileNote } from './cpuprofile.js';
import { now, sleep, until } from './clock.js';
import { EmperorUnderTest, type Arrival } from './emperor.js';
import { freshDir } from './files.js';
import { cpuNs, memory, procStat, processesMatching, readNumber, taskCount, vassalProcesses } from './proc.js';
import { askStats, freePort, StatsSampler } from './stats-client.js';
import { describe, summarize } from './stats.js';
import { figure, missing, type BenchContext, type BenchOutput, type Figure, type Target } from './types.js';
import { instantVassal, readyPath } from './vassals.js';

export interface FleetTargets {
  converge: Target;
  rss?: Target;
  idleCpu?: Target;
  statsMs?: Target;
}

export interface FleetOptions {
  count: number;
  targets: FleetTargets;
  /** Seconds of idle CPU sampling. */
  idleS: number;
  /**
   * Seconds of rest before sampling: after a burst V8 keeps collecting garbage for a while (its
   * memory reducer), which is not what a fleet at rest costs.
   */
  restS: number;
  coldStart: boolean;
  raiseNofile: boolean;
  timeoutMs: number;
}

const UNPRIVILEGED = { uid: 65534, gid: 65534, name: 'nobody' };
/** pids to leave free for everything else on the host while the fleet runs. */
const PID_MARGIN = 4096;

export async function runFleet(ctx: BenchContext, opts: FleetOptions): Promise<BenchOutput> {
  const { count } = opts;
  const figures: Figure[] = [];
  const notes: string[] = [];
  const isRoot = process.getuid?.() === 0;
  // As root every worker is three processes (exec helper, pid-namespace init, program), each a pid.
  const pidMax = readNumber('/proc/sys/kernel/pid_max') ?? 32768;
  const free = pidMax - taskCount() - PID_MARGIN;
  let user: typeof UNPRIVILEGED | undefined;
  if (isRoot && count * 3 > free) {
    if (count > free) {
      figures.push(missing(`${count} vassals converge`, 's', `kernel.pid_max ${pidMax} leaves ${free} pids free (after a margin of ${PID_MARGIN}), fewer than ${count} workers need`, { target: opts.targets.converge }));
      return { figures, notes };
    }
    user = UNPRIVILEGED;
    notes.push(`**Run as the unprivileged user \`nobody\`.** As root each worker is three processes (exec helper, pid-namespace init, the program), ${count * 3} pids in all, and kernel.pid_max is ${pidMax} with ${pidMax - free - PID_MARGIN} tasks already running: the host (shared with other work) would run out of pids. An unprivileged emperor gives each worker no pid namespace, so a worker is one process. Raise kernel.pid_max (\`sysctl kernel.pid_max=4194304\`) to measure the root layout; the bench does not change kernel settings itself.`);
  }

  const base = freshDir(ctx, `fleet${count}`, user);
  const dir = join(base, 'vassals');
  const staging = join(base, 'staging');
  const readyDir = join(base, 'ready');
  for (const d of [dir, staging, readyDir]) mkdirSync(d);
  if (user) {
    const { chownSync } = await import('node:fs');
    for (const d of [dir, staging, readyDir]) chownSync(d, user.uid, user.gid);
  }
  const names = Array.from({ length: count }, (_, i) => `v${String(i).padStart(5, '0')}.ini`);
  for (const n of names) writeFileSync(join(staging, n), instantVassal(readyPath(readyDir, n)));

  const stats = ctx.features.hasOption('--stats');
  const statsPort = stats ? await freePort() : 0;
  const profileDir = ctx.profile ? join(ctx.root, 'bench', 'tmp', 'profiles', `fleet${count}-${Date.now()}`) : undefined;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    // An unprivileged emperor must be able to write its profile there.
    if (user) (await import('node:fs')).chownSync(profileDir, user.uid, user.gid);
  }
  const args = [dir, ...(stats ? ['--stats', `127.0.0.1:${statsPort}`] : [])];
  const emperor = await EmperorUnderTest.launch(ctx, { args, raiseNofile: opts.raiseNofile, ...(user ? { user } : {}), ...(profileDir ? { cpuProfDir: profileDir } : {}) });
  const cmd = emperor.command;
  await sleep(1000);
  const rss0 = memory(emperor.pid)?.rssMB;

  // ---- burst --------------------------------------------------------------------------------
  const readyAt = new Map<string, number>();
  const problems = new Map<string, number>();
  let allReady: () => void = () => {};
  const everyone = new Promise<void>((r) => (allReady = r));
  emperor.on('ready', (a: Arrival) => {
    const v = a.rec.vassal;
    if (v === undefined || readyAt.has(v)) return;
    readyAt.set(v, a.at);
    if (readyAt.size === count) allReady();
  });
  for (const ev of ['config-error', 'start-error', 'crash', 'not-ready', 'internal-error', 'output-dropped']) {
    emperor.on(ev, () => problems.set(ev, (problems.get(ev) ?? 0) + 1));
  }
  const sampler = stats ? new StatsSampler(statsPort, 1000) : undefined;
  sampler?.start();
  const renamedAt = new Map<string, number>();
  const t0 = now();
  for (const n of names) {
    renamedAt.set(n, now());
    renameSync(join(staging, n), join(dir, n));
  }
  const burstMs = now() - t0;
  const timedOut = await Promise.race([everyone.then(() => false), sleep(opts.timeoutMs).then(() => true)]);
  const last = Math.max(...readyAt.values());
  const converged = timedOut ? undefined : (last - t0) / 1000;
  const latencies = [...readyAt.entries()].map(([v, at]) => at - renamedAt.get(v)!);
  const answersDuring = sampler ? await sampler.stop() : [];
  ctx.log(`${count} vassals: ${readyAt.size} ready, converged in ${converged?.toFixed(2) ?? 'n/a'} s`);
  figures.push(
    figure(`${count} vassal files dropped at once → all ready`, converged, 's', {
      target: opts.targets.converge,
      command: cmd,
      note: timedOut ? `only ${readyAt.size} of ${count} ready after ${opts.timeoutMs / 1000} s` : `renames took ${burstMs.toFixed(0)} ms; per vassal rename → ready ${describe(summarize(latencies))}`,
    }),
  );
  if (problems.size > 0) notes.push(`Events during the burst that should not happen: ${[...problems.entries()].map(([k, v]) => `${k} × ${v}`).join(', ')}.`);

  if (sampler) {
    // A request that got no answer counts with the time it waited (the 5 s timeout): a lower bound.
    const failed = answersDuring.filter((a) => !a.ok);
    const s = summarize(answersDuring.map((a) => a.ms));
    figures.push(
      figure(`Stats answer while ${count} vassals converge, max`, answersDuring.length ? s.max : undefined, 'ms', {
        ...(opts.targets.statsMs ? { target: opts.targets.statsMs } : {}),
        command: cmd,
        note: `${answersDuring.length} requests, each a second after the previous answer; ${failed.length} got no valid answer${failed[0]?.error ? ` (${failed[0].error}; counted with the time waited)` : ''}; ${describe(s)}`,
      }),
    );
  } else if (opts.targets.statsMs) {
    const exists = ctx.features.module('src/ops/stats-server.ts');
    figures.push(missing(`Stats answer while ${count} vassals converge, max`, 'ms', exists ? 'src/ops/stats-server.ts exists but `emperor --help` offers no --stats' : 'no stats server in the tree yet', { target: opts.targets.statsMs, unavailable: !exists }));
  }

  // ---- footprint at rest ---------------------------------------------------------------------
  if (!timedOut) {
    await sleep(3000);
    const mem = memory(emperor.pid);
    await sleep(Math.max(0, opts.restS - 3) * 1000);
    const procs = vassalProcesses(emperor.pid).length;
    const c0 = procStat(emperor.pid)?.cpuS ?? Number.NaN;
    const n0 = cpuNs(emperor.pid) ?? Number.NaN;
    const w0 = now();
    await sleep(opts.idleS * 1000);
    const wall = (now() - w0) / 1000;
    const c1 = procStat(emperor.pid)?.cpuS ?? Number.NaN;
    const n1 = cpuNs(emperor.pid) ?? Number.NaN;
    const ticks = ((c1 - c0) / wall) * 100;
    const precise = ((n1 - n0) / 1e9 / wall) * 100;
    const perVassalKB = mem && rss0 !== undefined ? ((mem.rssMB - rss0) * 1024) / count : Number.NaN;
    figures.push(
      figure(`Emperor RSS with ${count} vassals`, mem?.rssMB, 'MB', { ...(opts.targets.rss ? { target: opts.targets.rss } : {}), command: cmd, note: `peak (VmHWM) ${mem?.peakMB.toFixed(0)} MB; ${procs} processes below the emperor; the same process had ${rss0?.toFixed(0)} MB before the burst, so about ${perVassalKB.toFixed(0)} KB per vassal` }),
      figure(`Emperor idle CPU with ${count} vassals (utime+stime over ${opts.idleS} s)`, ticks, '% of a core', { ...(opts.targets.idleCpu ? { target: opts.targets.idleCpu } : {}), command: cmd, note: `schedstat (ns resolution) says ${precise.toFixed(3)} %` }),
    );
    if (stats) {
      const rest: number[] = [];
      for (let i = 0; i < 10; i++) {
        const a = await askStats(statsPort);
        if (a.ok) rest.push(a.ms);
      }
      const s = summarize(rest);
      figures.push(figure(`Stats answer at rest with ${count} vassals, p50`, rest.length ? s.p50 : undefined, 'ms', { command: cmd, note: describe(s) }));
    }
  }

  // ---- shutdown ------------------------------------------------------------------------------
  const s0 = now();
  const exit = await emperor.stop(120_000);
  figures.push(figure(`SIGTERM → emperor exited, all ${count} vassals stopped`, (exit.at - s0) / 1000, 's', { command: cmd, note: `exit code ${exit.code ?? exit.signal}` }));
  await until(() => processesMatching(readyDir).length === 0, 10_000, 50);
  const left = processesMatching(readyDir).length;
  if (left > 0) notes.push(`**${left} vassal processes were still alive 10 s after the emperor exited** (killed by the bench).`);
  if (profileDir) {
    const p = profileNote(profileDir, ctx.root, `the ${count}-vassal run`);
    if (p) notes.push(p);
  }

  // ---- cold start ----------------------------------------------------------------------------
  if (opts.coldStart && !timedOut) {
    const ready2 = new Set<string>();
    let done2: () => void = () => {};
    const all2 = new Promise<void>((r) => (done2 = r));
    const c0 = now();
    // --freq 60 changes nothing at start-up; afterwards it shows what the 3 s safety rescan costs at rest.
    const again = await EmperorUnderTest.launch(ctx, { args: [dir, '--freq', '60'], raiseNofile: opts.raiseNofile, ...(user ? { user } : {}), waitStart: false });
    let startedAt = Number.NaN;
    void again.next(undefined, 'start', 60_000).then((a) => (startedAt = a.at), () => undefined);
    again.on('ready', (a) => {
      if (a.rec.vassal === undefined) return;
      ready2.add(a.rec.vassal);
      if (ready2.size === count) done2();
    });
    const slow = await Promise.race([all2.then(() => false), sleep(opts.timeoutMs).then(() => true)]);
    const c1 = now();
    figures.push(
      figure(`Cold start: emperor launched with ${count} files present → all ready`, slow ? undefined : (c1 - c0) / 1000, 's', {
        command: again.command,
        status: slow ? 'unmeasured' : 'info',
        note: slow ? `only ${ready2.size} ready after ${opts.timeoutMs / 1000} s` : `of which ${((startedAt - c0) / 1000).toFixed(2)} s until the emperor's own 'start' event (loading Node and the emperor's modules)`,
      }),
    );
    if (!slow) {
      await sleep(opts.restS * 1000);
      const cpu0 = procStat(again.pid)?.cpuS ?? Number.NaN;
      const wall0 = now();
      await sleep(opts.idleS * 1000);
      const pct = (((procStat(again.pid)?.cpuS ?? Number.NaN) - cpu0) / ((now() - wall0) / 1000)) * 100;
      figures.push(figure(`Emperor idle CPU with ${count} vassals and --freq 60 (safety rescan every 60 s instead of 3 s)`, pct, '% of a core', { command: again.command, note: 'the same measurement as above; the difference is the cost of rescanning the directory every 3 s' }));
    }
    await again.stop(120_000);
    await until(() => processesMatching(readyDir).length === 0, 10_000, 50);
  }

  notes.unshift(
    `Method: the emperor is ${process.env.BENCH_EMPEROR === 'tsx' ? 'run from its sources through tsx (BENCH_EMPEROR=tsx)' : 'the compiled `emperor` bin (`node dist/src/cli/main.js`; the bench runs `npm run build` first when dist is missing or older than src)'}. ${count} configs (ready-at-once program, one worker each) are written to a staging directory on the same filesystem, then renamed into the watched directory of a running emperor in one loop (t0 = first rename); the figure is the moment the last \`ready\` event is read. Footprint: 3 s after convergence, VmRSS from /proc/PID/status; then, after ${opts.restS} s of rest (after a burst V8 goes on collecting garbage for a while, which is not what a fleet at rest costs), utime+stime of the emperor from /proc/PID/stat over ${opts.idleS} s (the periodic safety rescan every --freq 3 s included). ${stats ? 'During the burst a stats request (one connection, one JSON document) is sent a second after each answer, as a monitoring scraper would ask.' : ''}`,
  );
  return { figures, notes };
}
