/**
 * Runs the real `emperor` command as a child process (JSON output) and lets tests wait for its
 * events and its vassals' lines with deadlines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(fileURLToPath(import.meta.url), '..', '..', '..');
export const CLI = join(ROOT, 'src', 'cli', 'main.ts');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export interface Record_ {
  level?: string;
  msg?: string;
  event?: string;
  vassal?: string;
  pid?: number;
  line?: string;
  [k: string]: unknown;
}

export class EmperorProcess {
  readonly child: ChildProcess;
  readonly records: Record_[] = [];
  readonly raw: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<{ pred: (r: Record_) => boolean; resolve: (r: Record_) => void }> = [];

  /** Output lines of these vassals beyond the first few are not kept (flood tests). */
  private readonly sparse: Map<string, number>;

  /**
   * `wrapper`: words that run the emperor, e.g. `setpriv --reuid=nobody … --` or a shell that first
   * moves it into a cgroup; `node --import tsx CLI --log-format json …args` follows them.
   */
  constructor(args: readonly string[], opts: { cwd?: string; env?: Record<string, string>; sparse?: readonly string[]; wrapper?: readonly string[] } = {}) {
    this.sparse = new Map((opts.sparse ?? []).map((v) => [v, 0]));
    const [cmd, ...argv] = [...(opts.wrapper ?? []), process.execPath, '--import', 'tsx', CLI, '--log-format', 'json', ...args];
    this.child = spawn(cmd!, argv, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let rec: Record_;
        try {
          rec = JSON.parse(line) as Record_;
        } catch {
          rec = { msg: line, unparsed: true };
        }
        if (typeof rec.vassal === 'string' && rec.line !== undefined && this.sparse.has(rec.vassal)) {
          const n = this.sparse.get(rec.vassal)! + 1;
          this.sparse.set(rec.vassal, n);
          if (n > 20) continue;
        }
        this.raw.push(line);
        this.records.push(rec);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(rec)) return true;
          w.resolve(rec);
          return false;
        });
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (d: string) => this.stderr.push(d));
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first record (past or future) matching `pred`. */
  waitFor(pred: (r: Record_) => boolean, what: string, timeoutMs = 20_000): Promise<Record_> {
    const found = this.records.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last output:\n${this.raw.slice(-15).join('\n')}\n${this.stderr.join('')}`));
      }, timeoutMs);
      const done = (r: Record_): void => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** The next record from now on matching `pred` (ignores the past). */
  next(pred: (r: Record_) => boolean, what: string, timeoutMs = 20_000): Promise<Record_> {
    const from = this.records.length;
    return this.waitFor((r) => this.records.indexOf(r) >= from && pred(r), what, timeoutMs);
  }

  event(vassal: string | undefined, event: string, timeoutMs?: number): Promise<Record_> {
    return this.waitFor((r) => r.event === event && (vassal === undefined || r.vassal === vassal), `${event} of ${vassal ?? 'emperor'}`, timeoutMs);
  }

  nextEvent(vassal: string | undefined, event: string, timeoutMs?: number): Promise<Record_> {
    return this.next((r) => r.event === event && (vassal === undefined || r.vassal === vassal), `next ${event} of ${vassal ?? 'emperor'}`, timeoutMs);
  }

  /** A worker output line of `vassal` matching `re`. */
  line(vassal: string, re: RegExp, timeoutMs?: number): Promise<Record_> {
    return this.waitFor((r) => r.vassal === vassal && typeof r.line === 'string' && re.test(r.line), `line ${re} of ${vassal}`, timeoutMs);
  }

  nextLine(vassal: string, re: RegExp, timeoutMs?: number): Promise<Record_> {
    return this.next((r) => r.vassal === vassal && typeof r.line === 'string' && re.test(r.line), `next line ${re} of ${vassal}`, timeoutMs);
  }

  lines(vassal: string): string[] {
    return this.records.filter((r) => r.vassal === vassal && typeof r.line === 'string').map((r) => r.line as string);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM and wait for the exit; SIGKILL if it hangs. */
  async stop(timeoutMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }
}
