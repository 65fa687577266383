/**
 * Files the way benchmarks need them: fresh directories removed afterwards, configs created
 * atomically (written under a hidden name, then renamed: the moment of the rename is "created"),
 * and a watcher that timestamps the moment a file appears (inotify, not polling).
 */
import { chownSync, existsSync, mkdtempSync, renameSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { now } from './clock.js';
import type { BenchContext } from './types.js';

export function freshDir(ctx: BenchContext, prefix: string, owner?: { uid: number; gid: number }): string {
  const dir = mkdtempSync(join(tmpdir(), `emperor-bench-${prefix}-`));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  ctx.cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let seq = 0;

/** Writes `text` to a hidden temp file in `dir`, then renames it to `name`. Returns the time just before the rename. */
export function atomicWrite(dir: string, name: string, text: string): number {
  const tmp = join(dir, `.${name}.${process.pid}.${++seq}.tmp`);
  writeFileSync(tmp, text);
  const t0 = now();
  renameSync(tmp, join(dir, name));
  return t0;
}

/** First time each file name appeared in a directory, as inotify reports it. */
export class AppearanceWatcher {
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Map<string, Array<(at: number) => void>>();
  private readonly w: FSWatcher;

  constructor(readonly dir: string) {
    this.w = watch(dir, (_event, name) => {
      if (name === null || this.seen.has(name)) return;
      const at = now();
      // The event of a removal is no appearance (a name removed to be made again).
      if (!existsSync(join(dir, name))) return;
      this.seen.set(name, at);
      const list = this.waiters.get(name);
      if (list) {
        this.waiters.delete(name);
        for (const fn of list) fn(at);
      }
    });
  }

  /** When `name` appeared (waits for it); rejects after `timeoutMs`. */
  when(name: string, timeoutMs = 30_000): Promise<number> {
    const at = this.seen.get(name);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not appear in ${this.dir} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(name) ?? [];
      list.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.waiters.set(name, list);
    });
  }

  seenAt(name: string): number | undefined {
    return this.seen.get(name);
  }

  get count(): number {
    return this.seen.size;
  }

  /** Forget a name, so its next appearance counts (a file removed to be made again). */
  forget(name: string): void {
    this.seen.delete(name);
  }

  close(): void {
    this.w.close();
  }
}
