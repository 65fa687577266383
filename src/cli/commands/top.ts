/**
 * `emperor top`: a live view of the fleet, as uwsgitop and `pm2 monit`. On a terminal it redraws
 * every --interval on the alternate screen (q quits, n/c/m/r sort); `--once` prints a single
 * frame and exits; without a terminal it prints a frame per interval, as `top -b`.
 */
import { Option, type Command } from 'commander';
import type { ControlClient } from '../../ops/control-client.js';
import type { StatusResult } from '../../ops/status.js';
import { positive } from '../option-parsers.js';
import { renderTop, withCpu, type TopSort } from '../top-view.js';
import { controlCommand, print, withClient, type ControlOptions } from './client.js';

interface TopOpts extends ControlOptions {
  interval: number;
  once?: boolean;
  sort: TopSort;
}

const ESC = '\x1b[';
const KEYS: Record<string, TopSort> = { n: 'name', c: 'cpu', m: 'mem', r: 'restarts' };

export function registerTop(program: Command): void {
  controlCommand(program, 'top', 'a live view of the fleet: state, pids, CPU, memory, restarts and recent alarms (q quits)')
    .option('--interval <seconds>', 'refresh period', positive('--interval'), 1)
    .option('--once', 'print one frame (CPU measured over one interval) without terminal control, and exit')
    .addOption(new Option('--sort <key>', 'order of the rows').choices(['name', 'cpu', 'mem', 'restarts']).default('name'))
    .action((opts: TopOpts) => withClient(opts, (c) => (opts.once ? once(c, opts) : process.stdout.isTTY && process.stdin.isTTY ? live(c, opts) : batch(c, opts))));
}

const sample = async (c: ControlClient): Promise<StatusResult> => (await c.request({ cmd: 'status' })) as StatusResult;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function once(c: ControlClient, opts: TopOpts): Promise<void> {
  const first = await sample(c);
  await sleep(opts.interval * 1000);
  const cur = await sample(c);
  const lines = renderTop(withCpu(first, cur), { width: process.stdout.columns ?? 200, height: Infinity, sort: opts.sort, time: cur.time, keys: false });
  await print(lines.join('\n') + '\n');
}

async function batch(c: ControlClient, opts: TopOpts): Promise<void> {
  let prev: StatusResult | undefined;
  let stop = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (stop = true));
  process.stdout.on('error', () => (stop = true));
  while (!stop) {
    const cur = await sample(c);
    const lines = renderTop(withCpu(prev, cur), { width: 1000, height: Infinity, sort: opts.sort, time: cur.time, keys: false });
    await print(lines.join('\n') + '\n\n');
    prev = cur;
    await sleep(opts.interval * 1000);
  }
}

function live(c: ControlClient, opts: TopOpts): Promise<void> {
  const out = process.stdout;
  const stdin = process.stdin;
  let sort = opts.sort;
  let prev: StatusResult | undefined;
  let cur: StatusResult | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done = false;

  const draw = (): void => {
    if (!cur || done) return;
    const lines = renderTop(withCpu(prev, cur), { width: out.columns ?? 80, height: out.rows ?? 24, sort, time: cur.time, keys: true });
    out.write(`${ESC}H` + lines.map((l) => l + `${ESC}K`).join('\n') + `${ESC}J`);
  };

  return new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      out.off('resize', draw);
      stdin.off('data', onKey);
      stdin.setRawMode(false);
      stdin.pause();
      out.write(`${ESC}?25h${ESC}?1049l`);
      if (err) reject(err);
      else resolve();
    };
    const onKey = (data: Buffer): void => {
      const k = data.toString('latin1');
      if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') return finish();
      const s = KEYS[k.toLowerCase()];
      if (s) {
        sort = s;
        draw();
      }
    };
    const tick = async (): Promise<void> => {
      try {
        const next = await sample(c);
        if (done) return;
        prev = cur;
        cur = next;
        draw();
        timer = setTimeout(() => void tick(), opts.interval * 1000);
      } catch (err) {
        finish(err as Error);
      }
    };
    out.write(`${ESC}?1049h${ESC}?25l${ESC}H${ESC}2J`);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onKey);
    out.on('resize', draw);
    process.once('SIGTERM', () => finish());
    void tick();
  });
}
