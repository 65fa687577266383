/**
 * The emperor under test: the real CLI as a child process (`node dist/src/cli/main.js …
 * --log-format json`, the compiled `emperor` bin), its JSON events timestamped the moment they
 * arrive. Benchmarks arm a wait for an event, then cause it, so the measured time is what an
 * outside observer sees.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { killGroup } from './cleanup.js';
import { now } from './clock.js';
import type { BenchContext } from './types.js';

export interface EmperorRecord {
  level?: string;
  time?: string;
  event?: string;
  vassal?: string;
  msg?: string;
  pids?: number[];
  [k: string]: unknown;
}

export interface Arrival {
  rec: EmperorRecord;
  /** When the bench read the record (ms, see clock.now). */
  at: number;
}

export interface LaunchOptions {
  /** Monitors and options; `--log-format json`, a private `--state-dir` and `--control` are added. */
  args: readonly string[];
  env?: Record<string, string>;
  /** Run the emperor as this user (and group): no pid namespace per worker then. */
  user?: { uid: number; gid: number; name: string };
  /** Raise the soft descriptor limit to the hard one first (`ulimit -n $(ulimit -Hn)`). */
  raiseNofile?: boolean;
  /** Write a V8 CPU profile here at exit (node --cpu-prof). */
  cpuProfDir?: string;
  /** Send the emperor's stdout to this file instead of the bench (no events are seen then). */
  stdoutFile?: string;
  /** Wait for the `start` event (default true; not possible with stdoutFile). */
  waitStart?: boolean;
}

type Waiter = { pred: (r: EmperorRecord) => boolean; resolve: (a: Arrival) => void };

export class EmperorUnderTest {
  readonly pid: number;
  /** The command line, as a user would type it from the repository root. */
  readonly command: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** The last records, for error messages. */
  readonly tail: string[] = [];
  readonly stderr: string[] = [];
  /** The last output lines of vassals (raw JSON records), for error messages. */
  readonly vassalLines: string[] = [];
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly listeners = new Map<string, Array<(a: Arrival) => void>>();
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess, command: string) {
    this.child = child;
    this.pid = child.pid!;
    this.command = command;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: now() })));
  }

  static async launch(ctx: BenchContext, opts: LaunchOptions): Promise<EmperorUnderTest> {
    const work = mkdtempSync(join(tmpdir(), 'emperor-bench-run-'));
    ctx.cleanup.add(`remove ${work}`, async () => (await import('node:fs/promises')).rm(work, { recursive: true, force: true }));
    const extra: string[] = ['--log-format', 'json', '--state-dir', join(work, 'state')];
    if (ctx.features.hasOption('--control')) extra.push('--control', join(work, 'control.sock'));
    const nodeArgs = [...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []), ...emperorEntry(ctx.root), ...opts.args, ...extra];
    let file = process.execPath;
    let argv = nodeArgs;
    let shown = `node ${nodeArgs.map(quote).join(' ')}`;
    if (opts.raiseNofile) {
      file = '/bin/sh';
      argv = ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, ...nodeArgs];
      shown = `ulimit -n $(ulimit -Hn); ${shown}`;
    }
    if (opts.user) shown = `(as ${opts.user.name}) ${shown}`;
    if (opts.stdoutFile) shown += ` > ${opts.stdoutFile}`;
    const out = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : undefined;
    if (out !== undefined && opts.user) (await import('node:fs')).fchownSync(out, opts.user.uid, opts.user.gid);
    if (opts.user) (await import('node:fs')).chownSync(work, opts.user.uid, opts.user.gid);
    const child = spawn(file, argv, {
      cwd: ctx.root,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', out ?? 'pipe', 'pipe'],
      // Its own group: at the end the bench can kill whatever is left of it in one go.
      detached: true,
      ...(opts.user ? { uid: opts.user.uid, gid: opts.user.gid } : {}),
    });
    if (out !== undefined) closeSync(out);
    const e = new EmperorUnderTest(child, shown);
    ctx.cleanup.trackGroup(e.pid);
    ctx.cleanup.add(`stop emperor ${e.pid}`, async () => {
      await e.stop(20_000);
      ctx.cleanup.untrackGroup(e.pid);
    });
    e.read();
    if (opts.waitStart !== false && !opts.stdoutFile) {
      await e.next(undefined, 'start', 60_000);
    }
    return e;
  }

  /** The next record of `event` (for `vassal`, or any) from now on, optionally matching `pred`. */
  next(vassal: string | undefined, event: string, timeoutMs = 30_000, pred: (r: EmperorRecord) => boolean = () => true): Promise<Arrival> {
    const key = `${event}\0${vassal ?? ''}`;
    return new Promise<Arrival>((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      };
      const timer = setTimeout(() => {
        const list = this.waiters.get(key);
        if (list) this.waiters.set(key, list.filter((x) => x !== w));
        reject(new Error(`no '${event}' event${vassal ? ` of ${vassal}` : ''} within ${timeoutMs} ms; last events:\n${this.tail.slice(-12).join('\n')}\nlast vassal lines:\n${this.vassalLines.slice(-5).join('\n')}\n${this.stderr.join('').slice(-2000)}`));
      }, timeoutMs);
      const list = this.waiters.get(key);
      if (list) list.push(w);
      else this.waiters.set(key, [w]);
    });
  }

  /**
   * The vassal's `ready` event, or why it will not come: its config refused, its start failed, or
   * its worker crashing again and again (with the worker's last line, which says why).
   */
  async readyOrFailure(vassal: string, timeoutMs = 30_000): Promise<{ ready: Arrival } | { error: string }> {
    const ready = this.next(vassal, 'ready', timeoutMs).then((a) => ({ ready: a }));
    const fail = (event: string, pred: (r: EmperorRecord) => boolean = () => true): Promise<{ error: string }> =>
      this.next(vassal, event, timeoutMs, pred).then(
        (a) => {
          const line = this.vassalLines.filter((l) => l.includes(`"vassal":${JSON.stringify(vassal)}`)).pop();
          const said = line === undefined ? '' : `; its last line: ${(JSON.parse(line.endsWith('…') ? '{}' : line) as { line?: string }).line ?? line}`;
          return { error: `${event}: ${String(a.rec.msg)}${said}` };
        },
        () => new Promise<never>(() => undefined),
      );
    return Promise.race([ready, fail('config-error'), fail('start-error'), fail('crash', (r) => Number(r.crashes) >= 2)]);
  }

  /** Calls `fn` for every record of `event`; returns an unsubscribe function. */
  on(event: string, fn: (a: Arrival) => void): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(fn);
    this.listeners.set(event, list);
    return () => this.listeners.set(event, (this.listeners.get(event) ?? []).filter((f) => f !== fn));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (every vassal stops gracefully), SIGKILL to the group after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => killGroup(this.pid, 'SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(t);
    }
    // Whatever is left in its group (nothing, if the emperor keeps its promise of no orphans).
    killGroup(this.pid, 'SIGKILL');
    return this.exited;
  }

  private read(): void {
    const stdout = this.child.stdout;
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (d: string) => {
      this.stderr.push(d);
      if (this.stderr.length > 50) this.stderr.shift();
    });
    if (!stdout) return;
    let buf = '';
    stdout.setEncoding('utf8');
    stdout.on('data', (d: string) => {
      const at = now();
      buf += d;
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf('\n', start)) !== -1) {
        this.dispatch(buf.slice(start, nl), at);
        start = nl + 1;
      }
      buf = buf.slice(start);
    });
  }

  private dispatch(line: string, at: number): void {
    if (!line.includes('"event"')) {
      if (line.includes('"line"')) {
        this.vassalLines.push(line.length > 400 ? line.slice(0, 400) + '…' : line);
        if (this.vassalLines.length > 20) this.vassalLines.shift();
      }
      return;
    }
    let rec: EmperorRecord;
    try {
      rec = JSON.parse(line) as EmperorRecord;
    } catch {
      return;
    }
    if (typeof rec.event !== 'string' || rec.line !== undefined) return;
    this.tail.push(line.length > 400 ? line.slice(0, 400) + '…' : line);
    if (this.tail.length > 40) this.tail.shift();
    const arrival = { rec, at };
    for (const fn of this.listeners.get(rec.event) ?? []) fn(arrival);
    // Waiters for this vassal, then waiters for the event of any vassal.
    const keys = rec.vassal === undefined ? [`${rec.event}\0`] : [`${rec.event}\0${rec.vassal}`, `${rec.event}\0`];
    for (const key of keys) {
      const list = this.waiters.get(key);
      if (!list) continue;
      const i = list.findIndex((w) => w.pred(rec));
      if (i === -1) continue;
      const [w] = list.splice(i, 1);
      if (list.length === 0) this.waiters.delete(key);
      w!.resolve(arrival);
    }
  }
}

/**
 * How the emperor is started: compiled, as the installed `emperor` bin runs (`dist/src/cli/main.js`,
 * built by `npm run build` first when dist is missing or older than the sources), or with
 * BENCH_EMPEROR=tsx from the sources through tsx, as the tests run it.
 */
export function emperorEntry(root: string): string[] {
  if (process.env.BENCH_EMPEROR === 'tsx') return ['--import', 'tsx', 'src/cli/main.ts'];
  ensureBuilt(root);
  return [BUILT_MAIN];
}

/** What `npm run build` writes for the bin. */
const BUILT_MAIN = 'dist/src/cli/main.js';
let built = false;

/** Runs `npm run build` (tsc) when the build is missing or any source is newer; once per bench run. */
export function ensureBuilt(root: string, log: (msg: string) => void = (m) => void process.stdout.write(`[bench] ${m}\n`)): void {
  if (built) return;
  const main = join(root, BUILT_MAIN);
  const builtAt = existsSync(main) ? statSync(main).mtimeMs : undefined;
  const newest = newestSource(root);
  if (builtAt !== undefined && builtAt >= newest) {
    built = true;
    return;
  }
  log(builtAt === undefined ? `${BUILT_MAIN} is missing: npm run build…` : `sources are newer than ${BUILT_MAIN}: npm run build…`);
  const began = Date.now();
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 300_000 });
  } catch (err) {
    // tsc still writes its output on type errors: a tree in the middle of a change can be measured.
    const out = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`.trim();
    if (!existsSync(main) || statSync(main).mtimeMs < began - 1000) throw new Error(`npm run build failed: ${out.slice(0, 2000)}`);
    log(`npm run build reported errors (the output was written; measuring it anyway):\n${out.split('\n').slice(0, 10).join('\n')}`);
  }
  built = true;
}

/** The latest modification time of what the build compiles (and how). */
function newestSource(root: string): number {
  let newest = 0;
  const visit = (dir: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'build') visit(p);
      } else if (e.name.endsWith('.ts')) {
        newest = Math.max(newest, statSync(p).mtimeMs);
      }
    }
  };
  visit(join(root, 'src'));
  visit(join(root, 'plugins'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) {
    const p = join(root, f);
    if (existsSync(p)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** A shell word that reads back as `a`. */
export function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
