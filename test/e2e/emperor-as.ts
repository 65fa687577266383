/**
 * The real `emperor` command started through a wrapper (setpriv, a shell that first moves it into
 * a cgroup): what test/helpers/emperor-process.ts does for a plain start, for an emperor that is
 * not simply root. JSON records, waits with deadlines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CLI, ROOT, type Record_ } from '../helpers/emperor-process.js';

export class EmperorAs {
  readonly child: ChildProcess;
  readonly records: Record_[] = [];
  readonly raw: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: Array<{ pred: (r: Record_) => boolean; resolve: (r: Record_) => void }> = [];

  /** `wrapper` runs `node --import tsx CLI --log-format json ...args` as the words after it. */
  constructor(wrapper: readonly string[], args: readonly string[], opts: { env?: Record<string, string> } = {}) {
    const [cmd, ...pre] = wrapper;
    this.child = spawn(cmd!, [...pre, process.execPath, '--import', 'tsx', CLI, '--log-format', 'json', ...args], {
      cwd: ROOT,
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

  event(vassal: string | undefined, event: string, timeoutMs?: number): Promise<Record_> {
    return this.waitFor((r) => r.event === event && (vassal === undefined || r.vassal === vassal), `${event} of ${vassal ?? 'emperor'}`, timeoutMs);
  }

  line(vassal: string, re: RegExp, timeoutMs?: number): Promise<Record_> {
    return this.waitFor((r) => r.vassal === vassal && typeof r.line === 'string' && re.test(r.line), `line ${re} of ${vassal}`, timeoutMs);
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
