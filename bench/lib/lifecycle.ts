/**
 * The steps the dir-monitor benchmarks share: one emperor on a fresh directory, a vassal created
 * atomically and awaited until ready, then removed and awaited until stopped.
 */
import { mkdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { profileNote } from './cpuprofile.js';
import { EmperorUnderTest, type Arrival } from './emperor.js';
import { AppearanceWatcher, atomicWrite, freshDir } from './files.js';
import type { BenchContext } from './types.js';
import { instantVassal, readyName, readyPath } from './vassals.js';

export interface DirFleet {
  emperor: EmperorUnderTest;
  /** The watched directory. */
  dir: string;
  /** Where ready files go (watched by the bench). */
  readyDir: string;
  ready: AppearanceWatcher;
  profileDir: string | undefined;
  /** Stops the emperor; returns a profile note when profiling. */
  finish(what: string): Promise<string | undefined>;
}

export async function startDirFleet(ctx: BenchContext, prefix: string, options: readonly string[] = []): Promise<DirFleet> {
  const base = freshDir(ctx, prefix);
  const dir = join(base, 'vassals');
  const readyDir = join(base, 'ready');
  mkdirSync(dir);
  mkdirSync(readyDir);
  const ready = new AppearanceWatcher(readyDir);
  ctx.cleanup.add('close watcher', () => ready.close());
  const profileDir = ctx.profile ? join(ctx.root, 'bench', 'tmp', 'profiles', `${prefix}-${Date.now()}`) : undefined;
  const emperor = await EmperorUnderTest.launch(ctx, { args: [dir, ...options], ...(profileDir ? { cpuProfDir: profileDir } : {}) });
  return {
    emperor,
    dir,
    readyDir,
    ready,
    profileDir,
    async finish(what) {
      await emperor.stop();
      return profileDir ? profileNote(profileDir, ctx.root, what) : undefined;
    },
  };
}

export interface SpawnSample {
  /** Rename → ready event seen. */
  total: number;
  /** Rename → ready file appeared (the program is up). */
  programUp: number | undefined;
  /** Rename → the emperor's `start` event, by the emperor's own clock (ms resolution). */
  toStart: number | undefined;
  ready: Arrival;
}

/** Creates vassal `name` (ready at once) and waits until the emperor says it is ready. */
export async function spawnOne(f: DirFleet, name: string, extra = '', timeoutMs = 30_000): Promise<SpawnSample> {
  const rf = readyPath(f.readyDir, name);
  const start = f.emperor.next(name, 'start', timeoutMs);
  const ready = f.emperor.next(name, 'ready', timeoutMs);
  const t0 = atomicWrite(f.dir, name, instantVassal(rf, extra));
  const r = await ready;
  const s = await start;
  const up = f.ready.seenAt(readyName(name));
  const startAt = typeof s.rec.time === 'string' ? Date.parse(s.rec.time) : Number.NaN;
  return { total: r.at - t0, programUp: up === undefined ? undefined : up - t0, toStart: Number.isNaN(startAt) ? undefined : startAt - t0, ready: r };
}

/** Removes vassal `name` and waits for its `stopped` event. */
export async function removeOne(f: DirFleet, name: string, timeoutMs = 30_000): Promise<Arrival> {
  const stopped = f.emperor.next(name, 'stopped', timeoutMs);
  unlinkSync(join(f.dir, name));
  const a = await stopped;
  rmSync(readyPath(f.readyDir, name), { force: true });
  f.ready.forget(readyName(name));
  return a;
}
