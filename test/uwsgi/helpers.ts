/**
 * Real uWSGI vassals for the tests: Debian's uwsgi with its python3 plugin serving the tiny WSGI
 * app in test/fixtures/uwsgi-app, configs in the formats a /etc/uwsgi/vassals holds.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES } from '../helpers/emperor-process.js';
import { inCI } from '../helpers/wait.js';

export const APP = join(FIXTURES, 'uwsgi-app', 'app.py');

let checked: Promise<string | undefined> | undefined;

/** Why uWSGI cannot run here, or undefined when it can. */
function missing(): Promise<string | undefined> {
  checked ??= promisify(execFile)('uwsgi', ['--plugin', 'python3', '--version'], { timeout: 10_000 }).then(
    () => undefined,
    (err: Error) => `uwsgi with its python3 plugin is not installed (apt-get install uwsgi uwsgi-plugin-python3): ${err.message.split('\n')[0]}`,
  );
  return checked;
}

/**
 * Why the uWSGI tests skip here (`describe(name, { skip })`), or false when uWSGI can run. In CI
 * a missing uWSGI is a failure, not a skip.
 */
export async function uwsgiSkip(): Promise<string | false> {
  const why = await missing();
  if (why === undefined) return false;
  if (inCI) throw new Error(why);
  process.stdout.write(`# skipping uWSGI tests: ${why}\n`);
  return why;
}

/** The options of an HTTP-serving instance of the test app, as key/value pairs. */
export function appOptions(port: number, extra: ReadonlyArray<readonly [string, string]> = []): Array<readonly [string, string]> {
  return [
    ['plugins', 'python3'],
    ['master', 'true'],
    ['processes', '1'],
    ['http-socket', `127.0.0.1:${port}`],
    ['wsgi-file', APP],
    ...extra,
  ];
}

export function ini(options: ReadonlyArray<readonly [string, string]>, more = ''): string {
  return `[uwsgi]\n${options.map(([k, v]) => `${k} = ${v}`).join('\n')}\n${more}`;
}

export function xml(options: ReadonlyArray<readonly [string, string]>): string {
  return `<uwsgi>\n${options.map(([k, v]) => `  <${k}>${v}</${k}>`).join('\n')}\n</uwsgi>\n`;
}

export function yaml(options: ReadonlyArray<readonly [string, string]>): string {
  return `uwsgi:\n${options.map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;
}

/** GET http://127.0.0.1:PORT/PATH: status and body. */
export async function get(port: number, path = '/', timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Pids whose parent is `pid` (a uWSGI master's workers). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
