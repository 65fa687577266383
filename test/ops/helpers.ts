/** Shared by the ops tests: an emperor with its own control socket, the CLI, raw requests. */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CLI, EmperorProcess, ROOT } from '../helpers/emperor-process.js';
import { tempDir } from '../helpers/wait.js';

export interface Fleet {
  dir: string;
  sock: string;
  emp: EmperorProcess;
  stop(): Promise<void>;
}

/** An emperor on a fresh directory, with its control socket in that directory. */
export async function startFleet(extra: readonly string[] | ((dir: string) => readonly string[]) = []): Promise<Fleet> {
  const { dir, cleanup } = await tempDir('emperor-ops-');
  const sock = join(dir, 'control.sock');
  const emp = new EmperorProcess([dir, '--control', sock, '--throttle', '300', ...(typeof extra === 'function' ? extra(dir) : extra)]);
  await emp.event(undefined, 'start');
  return {
    dir,
    sock,
    emp,
    stop: async () => {
      await emp.stop();
      await cleanup();
    },
  };
}

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `emperor ARGS` to its end. */
export function cli(args: readonly string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`emperor ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 60_000} ms; stdout: ${out} stderr: ${err}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** Sends raw request lines on the control socket, half-closes, and returns every answer line parsed. */
export function rawRequest(sock: string, lines: readonly (string | object)[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const s = connect({ path: sock });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (buf += d));
    s.on('error', reject);
    s.on('end', () => resolve(buf.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)));
    s.on('connect', () => {
      s.end(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)) + '\n').join(''));
    });
  });
}

/** One request, its result (throws with the error message on ok:false). */
export async function request<T = unknown>(sock: string, req: object): Promise<T> {
  const [answer] = await rawRequest(sock, [{ id: 1, ...req }]);
  if (!answer || answer.ok !== true) throw new Error(`request ${JSON.stringify(req)} refused: ${JSON.stringify(answer)}`);
  return answer.result as T;
}
