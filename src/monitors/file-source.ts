/**
 * The engine behind the dir and glob monitors: a set of config files kept current by inotify
 * (chokidar) events, with a rescan every `freq` seconds as a safety net for anything the watcher
 * missed. Watcher events are only hints: every decision comes from a stat and read of the file
 * itself once its writer is done, serialized per path, so event storms (atomic saves, editors,
 * chunked writers) collapse into one upsert with the complete content.
 *
 * Each rescan lists the source (a flat directory whose times have not changed keeps its last
 * listing), so an add or delete the watcher missed is seen within one period. Stat'ing every file
 * each time is what costs (a thousand files are tens of ms of CPU every period), so while the
 * watcher can be trusted (a local filesystem, no watcher fault) a rescan stats only a rotating
 * slice of the files: an edit the watcher missed (an inotify queue overflow) is seen within
 * RESCAN_SLICES periods, and a rescan that finds anything the watcher did not report makes the
 * next ones stat everything again.
 */
import { basename, join, sep } from 'node:path';
import { stat } from 'node:fs/promises';
import type { BigIntStats, Stats } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch, type FSWatcher } from 'chokidar';
import { EmperorError, ErrorCodes, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { EventQueue } from './event-queue.js';
import { formatOf, isConfigFileName, nameTooLong, MAX_NAME_BYTES } from './file-names.js';
import { probeFile, readSettled, type FileRead, type ReadOptions } from './file-read.js';
import { createLimit } from './limit.js';
import { isLocalFilesystem } from './local-fs.js';
import { writersOf, writersUnknownReason, type Writers } from '../native/file-lease.js';
import type { Monitor, MonitorContext, MonitorEvent, VassalSpec } from './types.js';

/** What tells a dir monitor from a glob monitor; everything else is shared. */
export interface FileLayout {
  /** `directory` or `glob base`, for messages. */
  readonly kind: string;
  /** The directory that must exist for a scan to be trusted: the dir itself, or a glob's static base. */
  readonly root: string;
  /** Every path that may be a vassal now. Rejects when the source cannot be listed. */
  list(): Promise<string[]>;
  /** Whether a path (absolute) is covered by this monitor, its file name aside. */
  covers(path: string): boolean;
  /** The vassal name of a covered path. */
  nameOf(path: string): string;
  /** How deep the watcher descends below root (undefined: unlimited). */
  readonly watchDepth: number | undefined;
  /** True for a directory the watcher need not enter (it cannot hold a match). */
  skipDir(path: string): boolean;
  /** Whether the watcher descends into symlinked directories. */
  readonly followDirLinks: boolean;
  /** True when list() is the entries of root alone, so root's times change with the listing. */
  readonly flat: boolean;
}

export interface FileMonitorOptions {
  /** Without the watcher only the periodic rescan sees changes: for tests of the rescan itself. */
  watch?: boolean;
  /** Parallel file operations. */
  concurrency?: number;
  /** Replaces the kernel's answer to "is this file still open for writing?": for tests of the fallback. */
  writers?: (fd: number) => Writers;
  /** Rescans as with a trusted watcher (slices, reused listings) even without one: for tests of the rescan itself. */
  sliceRescans?: boolean;
}

/**
 * Announced files get this long to reappear before they count as removed. Editors that save by
 * renaming the file away (a backup) and writing a new one, or by deleting and rewriting it, leave
 * the name missing for well under a millisecond; this is that with room for a loaded machine. An
 * atomic replace (a temp file renamed over) never leaves the name missing at all.
 */
const MIN_REMOVE_GRACE_MS = 20;
/** While the watcher is trusted, each rescan stats one slice in this many of the known files. */
const RESCAN_SLICES = 20;
/** Rescans that stat every file after one found a change the watcher had not reported. */
const FULL_RESCANS_AFTER_MISS = 3;
const WANTED_CACHE_MAX = 100_000;
/**
 * A flat source's listing is reused while its directory's times stay the same, once they are this
 * much older than the listing: any later change then gets other times, even on filesystems that
 * keep times in 2 s steps.
 */
const RACY_LISTING_MS = 2500;
const DEFAULT_CONCURRENCY = 32;
/** chokidar's per-file change throttle (50 ms), plus a margin. */
const CHOKIDAR_THROTTLE_MS = 60;
/** The key under which faults of the source itself (root gone, listing failed) are de-duplicated. */
const ROOT_KEY = '';

type Wanted = 'yes' | 'no' | 'too-long';

interface Announced {
  spec: VassalSpec;
  sig: string;
  /** Which rescan slice stats this file while the watcher is trusted. */
  slot: number;
}

interface ErrorState {
  key: string;
  sig: string | undefined;
}

interface Inflight {
  again: boolean;
  done: Promise<void>;
}

function quietMs(s: BigIntStats): number {
  const last = s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs;
  return Date.now() - Number(last / 1_000_000n);
}

export function validateContext(ctx: MonitorContext, monitor: string): void {
  const bad = (key: string, expected: string, got: unknown): never => {
    throw new EmperorError(ErrorCodes.USAGE, `monitor ${monitor}: ${key} must be ${expected}, got ${String(got)}`, { key });
  };
  if (!(Number.isFinite(ctx.freq) && ctx.freq > 0)) bad('freq', 'a positive number of seconds', ctx.freq);
  if (!(Number.isFinite(ctx.settleMs) && ctx.settleMs >= 0)) bad('settleMs', 'a non-negative number of milliseconds', ctx.settleMs);
  if (!(Number.isSafeInteger(ctx.maxConfigBytes) && ctx.maxConfigBytes > 0)) bad('maxConfigBytes', 'a positive integer', ctx.maxConfigBytes);
}

export function createFileMonitor(id: string, layout: FileLayout, ctx: MonitorContext, opts: FileMonitorOptions = {}): Monitor {
  validateContext(ctx, id);
  return {
    id,
    events(signal: AbortSignal): AsyncIterable<MonitorEvent> {
      return run(id, layout, ctx, opts, signal);
    },
  };
}

async function* run(id: string, layout: FileLayout, ctx: MonitorContext, opts: FileMonitorOptions, signal: AbortSignal): AsyncGenerator<MonitorEvent> {
  const session = new FileSession(id, layout, ctx, opts);
  const onAbort = (): void => void session.close();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal.aborted) return;
    session.start();
    for (;;) {
      const r = await session.queue.next();
      if (signal.aborted) return;
      if (r.done) {
        if (session.fatal) throw session.fatal;
        return;
      }
      yield r.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await session.close();
  }
}

class FileSession {
  readonly queue = new EventQueue<MonitorEvent>();
  /** A fault of the monitor itself (not of its source): the iterator throws it, so the emperor restarts the monitor. */
  fatal: Error | undefined;
  private readonly ac = new AbortController();
  private readonly log: Logger;
  private readonly readOpts: ReadOptions;
  private readonly announced = new Map<string, Announced>();
  private readonly errors = new Map<string, ErrorState>();
  private readonly inflight = new Map<string, Inflight>();
  /** When the watcher last spoke of a path, while a check of it runs. */
  private readonly hintAt = new Map<string, number>();
  /** Upserts and removes wait for the first snapshot, which carries everything found before it. */
  private live = false;
  private watcher: FSWatcher | undefined;
  private watcherReady: Promise<void> = Promise.resolve();
  private rootId: string | undefined;
  private rootLost = false;
  private closing: Promise<void> | undefined;
  /** The root is on a filesystem whose changes inotify reports in full. */
  private localFs = false;
  /** Whether rescans may stat only a slice of the files. */
  private watcherTrusted = false;
  private fullRescansLeft = 0;
  private passes = 0;
  private nextSlot = 0;
  private writersUnknownLogged = false;
  private readonly wantedCache = new Map<string, Wanted>();
  /** The root's identity and times when its listing was last read, if reusable. */
  private listedStamp: string | undefined;
  /** The sorted specs of the last snapshot, while nothing was announced or removed since. */
  private snapshotSpecs: VassalSpec[] | undefined;

  constructor(
    private readonly id: string,
    private readonly layout: FileLayout,
    private readonly ctx: MonitorContext,
    private readonly opts: FileMonitorOptions,
  ) {
    // Every file that is settling waits on this signal at once.
    setMaxListeners(0, this.ac.signal);
    this.log = ctx.log.child({ monitor: id });
    this.readOpts = {
      settleMs: ctx.settleMs,
      writers: (fd) => this.writers(fd),
      removeGraceMs: Math.max(ctx.settleMs, MIN_REMOVE_GRACE_MS),
      maxBytes: ctx.maxConfigBytes,
      nofollow: ctx.tyrantNofollow,
      limit: createLimit(opts.concurrency ?? DEFAULT_CONCURRENCY, this.ac.signal),
    };
  }

  private get signal(): AbortSignal {
    return this.ac.signal;
  }

  private writers(fd: number): Writers {
    const w = (this.opts.writers ?? writersOf)(fd);
    if (w === 'unknown' && !this.writersUnknownLogged) {
      this.writersUnknownLogged = true;
      this.log.info(`cannot tell whether a config file is still being written (${writersUnknownReason()}); such files are read once unchanged for --settle ${this.ctx.settleMs} ms`, { root: this.layout.root });
    }
    return w;
  }

  start(): void {
    this.loop().catch((err: unknown) => {
      if (!this.signal.aborted) this.fatal = new EmperorError(ErrorCodes.MONITOR, `monitor ${this.id} failed: ${describeError(err)}`, { cause: err });
      this.queue.close();
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.ac.abort();
      this.queue.close();
      const w = this.watcher;
      this.watcher = undefined;
      if (w) await w.close().catch(() => undefined);
    })();
    return this.closing;
  }

  private async loop(): Promise<void> {
    // The first snapshot comes before the watcher is set up: thousands of inotify watches cost as
    // much as reading the files, and the snapshot should not wait for them. A change made in
    // between is caught by one more scan once the watcher is ready.
    const ok = await this.rescan();
    if (ok) this.emitSnapshot();
    if (this.opts.watch === false) this.trustWatcher();
    else if (!this.signal.aborted) {
      this.startWatcher();
      await this.watcherReady;
      if (ok && (await this.rescan())) this.emitSnapshot();
      this.trustWatcher();
    }
    for (;;) {
      try {
        await sleep(this.ctx.freq * 1000, undefined, { signal: this.signal });
      } catch {
        return;
      }
      if (await this.rescan()) this.emitSnapshot();
    }
  }

  // ---- watching ---------------------------------------------------------------------------

  private startWatcher(): void {
    const { root } = this.layout;
    const w = watch(root, {
      ignoreInitial: true,
      persistent: true,
      followSymlinks: this.layout.followDirLinks,
      depth: this.layout.watchDepth,
      ignored: (path: string, stats?: Stats) => this.ignored(path, stats),
    });
    this.watcher = w;
    this.watcherReady = new Promise<void>((resolve) => {
      w.once('ready', () => resolve());
      this.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const hint = (path: string): void => {
      if (this.wanted(path) === 'no') return;
      this.hintAt.set(path, Date.now());
      void this.check(path);
    };
    // The raw inotify events come first: chokidar emits 'add' only after listing and stat'ing the
    // whole directory again, which in a large directory takes long. Its 'add' stays as the way to
    // hear of files in a directory that appeared with them (no event names those).
    w.on('add', (path: string) => {
      if (!this.announced.has(path) && !this.inflight.has(path)) hint(path);
    });
    w.on('change', hint);
    // 'change' also brings chown/chmod (IN_ATTRIB), which chokidar drops for a file read since its
    // last write; in tyrant mode an owner change must stop the vassal at once.
    w.on('raw', (event: string, name: string | null, details: unknown) => {
      const at = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if ((event !== 'change' && event !== 'rename') || !name || typeof at !== 'string') return;
      hint(basename(at) === name && at !== root ? at : join(at, name));
    });
    w.on('unlink', hint);
    w.on('addDir', hint);
    w.on('unlinkDir', (path: string) => {
      if (path === root) {
        this.rootGone(undefined);
        return;
      }
      hint(path);
      // Removing a whole subtree may not name every file in it.
      const prefix = path + sep;
      for (const p of this.announced.keys()) if (p.startsWith(prefix)) void this.check(p);
    });
    w.on('error', (err: unknown) => {
      // A file the watcher could not stat (a symlink loop, no permission): our own read reports it, once.
      const path = typeof err === 'object' && err !== null && 'path' in err ? (err as { path: unknown }).path : undefined;
      if (typeof path === 'string' && this.wanted(path) !== 'no') {
        void this.check(path);
        return;
      }
      this.watcherTrusted = false;
      this.emitError(ROOT_KEY, new EmperorError(ErrorCodes.MONITOR, `watching ${root} failed, changes are seen at the next rescan: ${describeError(err)}`, { file: root, cause: err }), `watch|${describeError(err)}`);
    });
    this.log.debug('watching', { root, depth: this.layout.watchDepth });
  }

  private ignored(path: string, stats?: Stats): boolean {
    if (path === this.layout.root) return false;
    const asFile = this.wanted(path) !== 'no';
    if (stats?.isDirectory()) return !asFile && this.layout.skipDir(path);
    if (stats !== undefined) return !asFile;
    return !asFile && this.layout.skipDir(path);
  }

  private async restartWatcher(): Promise<void> {
    const old = this.watcher;
    this.watcher = undefined;
    if (old) await old.close().catch(() => undefined);
    if (this.signal.aborted) return;
    this.startWatcher();
    await this.watcherReady;
    this.trustWatcher();
  }

  /** A watcher just set up (and followed by a full rescan) is trusted on a local filesystem. */
  private trustWatcher(): void {
    this.watcherTrusted = (this.opts.sliceRescans === true || (this.localFs && this.watcher !== undefined)) && !this.signal.aborted;
  }

  // ---- scanning -----------------------------------------------------------------------------

  /** 'yes', 'no', or 'too-long' for a config name longer than a vassal name may be. */
  private wanted(path: string): Wanted {
    let w = this.wantedCache.get(path);
    if (w !== undefined) return w;
    if (!this.layout.covers(path) || !isConfigFileName(basename(path), this.ctx.extraExtensions)) w = 'no';
    else w = nameTooLong(this.layout.nameOf(path)) ? 'too-long' : 'yes';
    // Every rescan asks again for every path; editors' one-off temp names must not grow it forever.
    if (this.wantedCache.size >= WANTED_CACHE_MAX) this.wantedCache.clear();
    this.wantedCache.set(path, w);
    return w;
  }

  /**
   * Brings every file up to date, or (watcher trusted) a slice of them. False when the source
   * could not be listed.
   */
  private async rescan(): Promise<boolean> {
    let paths: string[] | undefined;
    let sliced: boolean;
    try {
      const root = await stat(this.layout.root, { bigint: true });
      if (!root.isDirectory()) throw new EmperorError(ErrorCodes.MONITOR, `${this.layout.root} is no longer a directory`, { file: this.layout.root });
      const rootId = `${root.dev}:${root.ino}`;
      // A root deleted and made again is a new inode the old watcher knows nothing about.
      const replaced = this.rootId !== undefined && this.rootId !== rootId;
      if (rootId !== this.rootId) this.localFs = await isLocalFilesystem(this.layout.root);
      this.rootId = rootId;
      sliced = this.watcherTrusted && this.fullRescansLeft === 0 && !this.rootLost && !replaced;
      const stamp = `${rootId}:${root.mtimeNs}:${root.ctimeNs}`;
      if (!(sliced && this.layout.flat && stamp === this.listedStamp)) {
        paths = await this.layout.list();
        // A directory whose times are not older than any timestamp tick could change again unseen
        // under the same times: its listing is not reused.
        this.listedStamp = quietMs(root) > RACY_LISTING_MS ? stamp : undefined;
      }
      if ((this.rootLost || replaced) && this.opts.watch !== false && !this.signal.aborted) await this.restartWatcher();
      if (this.rootLost) this.log.info('source is back', { root: this.layout.root });
      this.rootLost = false;
      this.errors.delete(ROOT_KEY);
    } catch (err) {
      if (this.signal.aborted) return false;
      this.listedStamp = undefined;
      this.rootGone(err);
      return false;
    }
    const slot = this.passes++ % RESCAN_SLICES;
    const missed = await (paths === undefined ? this.probeSlice(slot) : this.probeListed(paths, sliced ? slot : undefined));
    if (this.signal.aborted) return false;
    if (!sliced && this.fullRescansLeft > 0) this.fullRescansLeft--;
    if (missed !== undefined && this.watcherTrusted) {
      this.fullRescansLeft = FULL_RESCANS_AFTER_MISS;
      this.log.debug('the rescan found a change the watcher did not report; the next rescans stat every file', { file: missed });
    }
    return true;
  }

  /**
   * Checks what a listing shows against what was announced: new and vanished files, and a stat of
   * every known file (or, given a slot, of that slice). Resolves to a path the watcher should have
   * reported but did not, if any.
   */
  private async probeListed(paths: readonly string[], slot: number | undefined): Promise<string | undefined> {
    let missed: string | undefined;
    const seen = new Set<string>();
    const work: Array<Promise<void>> = [];
    for (const p of paths) {
      const w = this.wanted(p);
      if (w === 'no' || seen.has(p)) continue;
      seen.add(p);
      if (w === 'too-long') {
        this.emitError(p, new EmperorError(ErrorCodes.CONFIG_READ, `vassal name is longer than ${MAX_NAME_BYTES} bytes; the file is ignored`, { file: p }), 'ENAMETOOLONG');
        continue;
      }
      const known = this.announced.get(p);
      if (slot !== undefined && known !== undefined && known.slot !== slot && !this.errors.has(p) && !this.inflight.has(p)) continue;
      work.push(
        this.probe(p).then((unreported) => {
          if (unreported) missed ??= p;
        }),
      );
    }
    for (const p of this.announced.keys()) {
      if (seen.has(p)) continue;
      if (!this.inflight.has(p)) missed ??= p;
      work.push(this.check(p));
    }
    for (const p of this.errors.keys()) if (p !== ROOT_KEY && !seen.has(p) && !this.announced.has(p)) this.errors.delete(p);
    await Promise.all(work);
    return missed;
  }

  /** The same for an unchanged listing: a stat of one slice of the known files, and of every file in error. */
  private async probeSlice(slot: number): Promise<string | undefined> {
    let missed: string | undefined;
    const work: Array<Promise<void>> = [];
    const probe = (p: string): void => {
      work.push(
        this.probe(p).then((unreported) => {
          if (unreported) missed ??= p;
        }),
      );
    };
    for (const [p, a] of this.announced) if (a.slot === slot || this.inflight.has(p) || this.errors.has(p)) probe(p);
    for (const p of this.errors.keys()) if (p !== ROOT_KEY && !this.announced.has(p) && this.wanted(p) === 'yes') probe(p);
    await Promise.all(work);
    return missed;
  }

  /**
   * Reads the file only if a stat says it changed since it was last read or reported. True when
   * it had changed (or was new) and no check of it was under way: the watcher did not report it.
   */
  private async probe(path: string): Promise<boolean> {
    const known = this.announced.get(path);
    const err = this.errors.get(path);
    if (this.inflight.has(path)) {
      await this.check(path);
      return false;
    }
    if (known === undefined && err?.sig === undefined) {
      await this.check(path);
      return err === undefined;
    }
    const p = await this.readOpts.limit(() => probeFile(path, this.readOpts.nofollow));
    if (p.kind === 'present' && (p.sig === known?.sig || p.sig === err?.sig)) return false;
    const unreported = p.kind !== 'unknown' && !this.inflight.has(path);
    await this.check(path);
    return unreported;
  }

  /** Brings one path up to date; concurrent requests for the same path share one run (plus one rerun). */
  private check(path: string): Promise<void> {
    const cur = this.inflight.get(path);
    if (cur) {
      cur.again = true;
      return cur.done;
    }
    const slot: Inflight = { again: false, done: Promise.resolve() };
    this.inflight.set(path, slot);
    slot.done = this.runChecks(path, slot);
    return slot.done;
  }

  private async runChecks(path: string, slot: Inflight): Promise<void> {
    try {
      for (;;) {
        slot.again = false;
        await this.checkOnce(path);
        await this.trailingProbe(path, slot);
        // Leaving happens in the same tick as this test, so a hint can never be lost in between.
        if (!slot.again || this.signal.aborted) break;
      }
    } catch (err) {
      if (!this.signal.aborted) this.emitError(path, new EmperorError(ErrorCodes.MONITOR, `checking ${path} failed: ${describeError(err)}`, { file: path, cause: err }), `check|${describeError(err)}`);
    } finally {
      this.inflight.delete(path);
      this.hintAt.delete(path);
    }
  }

  /**
   * chokidar drops a change that follows another on the same file within 50 ms (no trailing
   * event), so a quick second save would wait for the rescan. One stat after that window (and
   * after our own read) catches it.
   */
  private async trailingProbe(path: string, slot: Inflight): Promise<void> {
    const at = this.hintAt.get(path);
    // One probe per hint: a fault that never settles cannot keep the loop spinning.
    this.hintAt.delete(path);
    if (at === undefined || this.wanted(path) !== 'yes') return;
    const wait = at + CHOKIDAR_THROTTLE_MS - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal: this.signal });
    if (slot.again) return;
    const p = await this.readOpts.limit(() => probeFile(path, this.readOpts.nofollow));
    const known = this.announced.get(path);
    const err = this.errors.get(path);
    const same = p.kind === 'present' ? p.sig === known?.sig || p.sig === err?.sig : p.kind === 'missing' && known === undefined;
    if (!same) slot.again = true;
  }

  private async checkOnce(path: string): Promise<void> {
    if (this.wanted(path) !== 'yes') return;
    const prev = this.announced.get(path);
    const state = await readSettled(path, this.readOpts, this.signal, prev !== undefined);
    if (this.signal.aborted) return;
    switch (state.kind) {
      case 'missing': {
        this.errors.delete(path);
        if (prev === undefined) return;
        // A vanished root is a lost source, not an order to stop its vassals.
        if (!(await this.rootIsThere())) {
          this.rootGone(undefined);
          return;
        }
        this.announced.delete(path);
        this.snapshotSpecs = undefined;
        this.emit({ type: 'remove', name: prev.spec.name });
        return;
      }
      case 'error':
        // The version already announced (if any) keeps running.
        this.emitError(path, state.error, state.key, state.sig);
        return;
      case 'file': {
        this.errors.delete(path);
        const spec = this.specOf(path, state);
        this.announced.set(path, { spec, sig: state.sig, slot: prev?.slot ?? this.nextSlot++ % RESCAN_SLICES });
        this.snapshotSpecs = undefined;
        if (prev && prev.spec.revision === spec.revision && prev.spec.uid === spec.uid && prev.spec.gid === spec.gid) return;
        this.emit({ type: 'upsert', spec });
        return;
      }
    }
  }

  private specOf(path: string, f: FileRead): VassalSpec {
    const text = f.bytes.toString('utf8');
    const format = formatOf(basename(path), this.ctx.extraExtensions, text);
    // Touch reloads (as uWSGI); the hash catches edits within one timestamp tick. An owner change
    // is an upsert with the same revision and new uid/gid: the emperor decides what it means.
    let revision = `${f.mtimeNs}-${f.hash.slice(0, 16)}`;
    if (f.linkMtimeNs !== undefined) revision += `-l${f.linkMtimeNs}`;
    return {
      name: this.layout.nameOf(path),
      source: this.id,
      config: { text, format, path },
      revision,
      uid: f.uid,
      gid: f.gid,
    };
  }

  private async rootIsThere(): Promise<boolean> {
    try {
      return (await stat(this.layout.root)).isDirectory();
    } catch {
      return false;
    }
  }

  private rootGone(cause: unknown): void {
    if (this.signal.aborted) return;
    this.rootLost = true;
    const code = cause instanceof EmperorError ? 'ENOTDIR' : typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : 'ENOENT';
    const why = cause === undefined ? `the ${this.layout.kind} is gone` : `the ${this.layout.kind} cannot be scanned: ${describeError(cause)}`;
    this.emitError(
      ROOT_KEY,
      new EmperorError(ErrorCodes.MONITOR, `${why}; the vassals it announced keep running, retrying every ${this.ctx.freq} s`, { file: this.layout.root, cause }),
      `root|${code}`,
    );
  }

  // ---- emitting -----------------------------------------------------------------------------

  private emit(ev: MonitorEvent): void {
    if (this.live) this.queue.push(ev);
  }

  private emitSnapshot(): void {
    const specs = (this.snapshotSpecs ??= [...this.announced.values()].map((a) => a.spec).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
    this.queue.push({ type: 'snapshot', specs });
    this.live = true;
  }

  /** Reports a fault once per distinct key for a path (or for the source, under ROOT_KEY). */
  private emitError(path: string, error: Error, key: string, sig?: string): void {
    if (this.errors.get(path)?.key === key) {
      this.errors.set(path, { key, sig });
      return;
    }
    this.errors.set(path, { key, sig });
    const announcedName = this.announced.get(path)?.spec.name;
    const name = path === ROOT_KEY ? undefined : (announcedName ?? this.layout.nameOf(path));
    this.queue.push(name === undefined ? { type: 'error', error } : { type: 'error', error, name });
  }
}
