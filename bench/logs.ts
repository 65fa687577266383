/**
 * `logs`: the log pipeline. One vassal writes N numbered lines as fast as `cat` can; the emperor
 * reads them, splits them into lines and writes them to the vassal's `logto` file (or, variant,
 * to its own stdout redirected to a file, as JSON records). The rate is lines per second through
 * the emperor; every line is then checked to have arrived whole and in order. With the alarm
 * subsystem, the same run with 10 log-alarm rules, and the latency from a log line to the start
 * of its alarm's command.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, createReadStream, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { now, sleep, until } from './lib/clock.js';
import { EmperorUnderTest } from './lib/emperor.js';
import { AppearanceWatcher, atomicWrite, freshDir } from './lib/files.js';
import { profileNote } from './lib/cpuprofile.js';
import { procStat } from './lib/proc.js';
import { describe, summarize } from './lib/stats.js';
import { figure, missing, type Benchmark, type BenchContext, type Figure } from './lib/types.js';

/**
 * Ten rules of the kind operators write; none matches the numbered lines, so every line is tested
 * against all ten. (A config value is trimmed: no rule may count on a leading or trailing space.)
 */
export const TEN_RULES = [
  '^FATAL',
  'Traceback \\(most recent call last\\)',
  'segfault at [0-9a-f]+',
  'out of memory',
  'Killed process [0-9]+',
  'timeout after [0-9]+ ?ms',
  'connection refused',
  '" 5[0-9][0-9] [0-9]+ ',
  'panic: ',
  'disk quota exceeded',
];

function lineOf(i: number): string {
  return `${String(i).padStart(8, '0')} GET /api/v1/items?id=${i} 200 0.003 bench-payload-abcdefghijklmnop`;
}

interface Check {
  /** Lines that arrived whole, in order. */
  matched: number;
  /** Expected lines that never arrived. */
  lost: number;
  /** Lines that arrived cut, joined, altered or out of order. */
  damaged: number;
  detail: string;
}

/**
 * Walks the lines that arrived against 0..n-1: a line that is exactly the next expected one (or a
 * later one, the ones in between being lost) matches; anything else is damaged.
 */
function tally(lines: Iterable<string>, n: number): Check {
  let next = 0;
  let matched = 0;
  let damaged = 0;
  let firstDamage = '';
  for (const l of lines) {
    const i = /^\d{8} /.test(l) ? Number(l.slice(0, 8)) : -1;
    if (i >= next && i < n && l === lineOf(i)) {
      matched++;
      next = i + 1;
    } else {
      damaged++;
      if (firstDamage === '') firstDamage = JSON.stringify(l.slice(0, 80));
    }
  }
  const lost = n - matched;
  const detail = lost === 0 && damaged === 0 ? `all ${n.toLocaleString('en-US')} lines whole and in order` : `${lost.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} lines lost, ${damaged} damaged${firstDamage ? ` (first: ${firstDamage})` : ''}`;
  return { matched, lost, damaged, detail };
}

/** Checks a logto file against the data the vassal wrote. */
function checkRaw(out: string, data: Buffer, n: number): Check {
  const got = readFileSync(out);
  if (got.equals(data)) return { matched: n, lost: 0, damaged: 0, detail: `all ${n.toLocaleString('en-US')} lines whole and in order (byte-identical to what the vassal wrote)` };
  const lines = got.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return tally(lines, n);
}

/** Checks the vassal's lines among the emperor's JSON records. */
async function checkJson(out: string, vassal: string, n: number): Promise<Check> {
  const rl = createInterface({ input: createReadStream(out, { encoding: 'utf8' }), crlfDelay: Infinity });
  async function* lines(): AsyncGenerator<string> {
    for await (const text of rl) {
      if (!text.includes('"line"')) continue;
      const rec = JSON.parse(text) as { vassal?: string; line?: string };
      if (rec.vassal === vassal && typeof rec.line === 'string') yield rec.line;
    }
  }
  const arrived: string[] = [];
  for await (const l of lines()) arrived.push(l);
  return tally(arrived, n);
}

interface Throughput {
  rate: number;
  seconds: number;
  cpuS: number;
  check: Check;
  command: string;
  profile: string | undefined;
}

async function runLogto(ctx: BenchContext, base: string, data: string, dataBuf: Buffer, n: number, extra: string, label: string): Promise<Throughput> {
  const dir = join(base, `v-${label}`);
  mkdirSync(dir);
  const out = join(base, `out-${label}.log`);
  const profileDir = ctx.profile ? join(ctx.root, 'bench', 'tmp', 'profiles', `logs-${label}-${Date.now()}`) : undefined;
  const emperor = await EmperorUnderTest.launch(ctx, { args: [dir], ...(profileDir ? { cpuProfDir: profileDir } : {}) });
  const started = emperor.next('log.ini', 'start', 30_000);
  const cpu0 = procStat(emperor.pid)?.cpuS ?? 0;
  atomicWrite(dir, 'log.ini', `[vassal]\ncommand = /bin/sh -c 'cat ${data}; exec sleep 100000'\nlogto = ${out}\n${extra}`);
  const t0 = (await started).at;
  const expected = dataBuf.length;
  let t1 = Number.NaN;
  let last = -1;
  let lastChange = now();
  for (;;) {
    let size = 0;
    try {
      size = statSync(out).size;
    } catch {
      // not created yet
    }
    if (size >= expected) {
      t1 = now();
      break;
    }
    if (size !== last) {
      last = size;
      lastChange = now();
    } else if (now() - lastChange > 15_000) {
      break;
    }
    await sleep(5);
  }
  // A run that stalls short of the full size ends at its last growth: the rate of what arrived.
  if (Number.isNaN(t1)) t1 = lastChange;
  const cpu1 = procStat(emperor.pid)?.cpuS ?? 0;
  await sleep(200);
  const command = emperor.command;
  await emperor.stop();
  const check = checkRaw(out, dataBuf, n);
  return { rate: check.matched / ((t1 - t0) / 1000), seconds: (t1 - t0) / 1000, cpuS: cpu1 - cpu0, check, command, profile: profileDir ? profileNote(profileDir, ctx.root, `${n.toLocaleString('en-US')} lines (${label})`) : undefined };
}

async function runStdout(ctx: BenchContext, base: string, data: string, n: number): Promise<Throughput> {
  const dir = join(base, 'v-stdout');
  mkdirSync(dir);
  const out = join(base, 'emperor-stdout.jsonl');
  const emperor = await EmperorUnderTest.launch(ctx, { args: [dir], stdoutFile: out, waitStart: false });
  // No events to wait on: the emperor's output goes to the file. Its start shows there.
  for (let i = 0; i < 600 && !readFileSync(out, 'utf8').includes('"event":"start"'); i++) await sleep(100);
  atomicWrite(dir, 'log.ini', `[vassal]\ncommand = /bin/sh -c 'cat ${data}; exec sleep 100000'\n`);
  let last = -1;
  let lastChange = now();
  // Done once the file has not grown for a second; the last write is its mtime.
  while (now() - lastChange < 1000) {
    const size = statSync(out).size;
    if (size !== last) {
      last = size;
      lastChange = now();
    }
    await sleep(20);
  }
  const t1 = statSync(out).mtimeMs;
  const text = readFileSync(out, 'utf8');
  const m = /\{[^\n]*"vassal":"log\.ini"[^\n]*"event":"start"[^\n]*\}/.exec(text);
  const t0 = m ? Date.parse((JSON.parse(m[0]) as { time: string }).time) : Number.NaN;
  const command = emperor.command;
  await emperor.stop();
  const check = await checkJson(out, 'log.ini', n);
  return { rate: check.matched / ((t1 - t0) / 1000), seconds: (t1 - t0) / 1000, cpuS: Number.NaN, check, command, profile: undefined };
}

/** The alarm's command writes the message to DIR/fired: its shell creates the file before anything else. */
function alarmLines(firedDir: string, rules: readonly string[]): string {
  return `alarm = bench cmd:cat > ${firedDir}/fired\n` + rules.map((r) => `log-alarm = bench ${r}\n`).join('');
}

/** Line written into the vassal → its alarm's command has started (its output file appears). */
async function alarmLatency(ctx: BenchContext, base: string, n: number): Promise<{ samples: number[]; command: string; fired: number } | { error: string }> {
  const dir = join(base, 'v-alarm');
  const firedDir = join(base, 'fired');
  mkdirSync(dir);
  mkdirSync(firedDir);
  const fifo = join(base, 'lines.fifo');
  execFileSync('mkfifo', [fifo]);
  const watcher = new AppearanceWatcher(firedDir);
  ctx.cleanup.add('close watcher', () => watcher.close());
  const emperor = await EmperorUnderTest.launch(ctx, { args: [dir] });
  const started = emperor.readyOrFailure('alarm.ini', 30_000);
  atomicWrite(dir, 'alarm.ini', `[vassal]\ncommand = cat ${fifo}\nready = alive:50\n${alarmLines(firedDir, ['ALARM-TRIGGER'])}`);
  const outcome = await started;
  if ('error' in outcome) return { error: `the vassal did not start: ${outcome.error}` };
  let fd = -1;
  for (let i = 0; i < 500 && fd < 0; i++) {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      await sleep(10);
    }
  }
  if (fd < 0) return { error: 'the vassal never opened its input fifo' };
  const samples: number[] = [];
  try {
    for (let i = 0; i < n + 3; i++) {
      // Each command makes the same file: the bench removes it and waits for it to appear again.
      rmSync(join(firedDir, 'fired'), { force: true });
      watcher.forget('fired');
      const fired = watcher.when('fired', i === 0 ? 5000 : 10_000);
      const t0 = now();
      writeSync(fd, `ALARM-TRIGGER seq=${i}\n`);
      let at: number;
      try {
        at = await fired;
      } catch {
        if (i === 0) return { error: 'a line matching a log-alarm rule started no alarm command within 5 s (the alarm subsystem is not run by the emperor)' };
        throw new Error(`alarm ${i} did not fire within 10 s`);
      }
      if (i >= 3) samples.push(at - t0);
      // The command's output is the line that raised it: wait for it, so runs never overlap.
      await until(() => readFileSync(join(firedDir, 'fired'), 'utf8').includes(`seq=${i}\n`), 5000, 2);
      await sleep(30);
    }
  } finally {
    closeSync(fd);
  }
  await sleep(300);
  const command = emperor.command;
  await emperor.stop();
  return { samples, command, fired: watcher.count };
}

const logs: Benchmark = {
  name: 'logs',
  title: 'Log pipeline: lines per second through one vassal, and log line → alarm command',
  async run(ctx) {
    const n = ctx.quick ? 300_000 : 1_000_000;
    const base = freshDir(ctx, 'logs');
    const data = join(base, 'lines.txt');
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(lineOf(i));
    const dataBuf = Buffer.from(parts.join('\n') + '\n');
    writeFileSync(data, dataBuf);
    const figures: Figure[] = [];
    const notes: string[] = [];
    const size = `${n.toLocaleString('en-US')} lines of ${Math.round(dataBuf.length / n)} bytes (${(dataBuf.length / 1e6).toFixed(0)} MB)`;

    const plain = await runLogto(ctx, base, data, dataBuf, n, '', 'plain');
    ctx.log(`logto: ${Math.round(plain.rate)} lines/s, ${plain.check.detail}`);
    figures.push(
      figure(`Lines/s through one vassal to its logto file, no rules (${size})`, plain.rate, 'lines/s', { target: { op: '>=', value: 500_000 }, command: plain.command, note: `${plain.seconds.toFixed(2)} s; emperor CPU ${plain.cpuS.toFixed(2)} s (${((plain.cpuS / n) * 1e6).toFixed(2)} µs per line); ${plain.check.detail}; ${((plain.rate / 1_000_000) * 100).toFixed(0)} % of 1,000,000 lines/s` }),
      figure('  lines lost or damaged on the way (logto)', plain.check.lost + plain.check.damaged, 'count', { target: { op: '<=', value: 0 }, command: plain.command, note: plain.check.detail }),
    );
    if (plain.profile) notes.push(plain.profile);

    const viaStdout = await runStdout(ctx, base, data, n);
    ctx.log(`stdout: ${Math.round(viaStdout.rate)} lines/s, ${viaStdout.check.detail}`);
    figures.push(
      figure(`Lines/s through one vassal to the emperor's stdout (JSON records) redirected to a file`, viaStdout.rate, 'lines/s', { command: viaStdout.command, note: `${viaStdout.seconds.toFixed(2)} s` }),
      figure('  lines lost or damaged on the way (stdout)', viaStdout.check.lost + viaStdout.check.damaged, 'count', { target: { op: '<=', value: 0 }, command: viaStdout.command, note: viaStdout.check.detail }),
    );

    const hasAlarms = ctx.features.module('src/alarms/subsystem.ts');
    if (!hasAlarms) {
      figures.push(missing('Lines/s with 10 log-alarm rules', 'lines/s', 'src/alarms does not exist yet', { target: { op: '>=', value: 500_000 }, unavailable: true }));
      figures.push(missing('Log line → alarm command started, p50', 'ms', 'src/alarms does not exist yet', { target: { op: '<=', value: 5 }, unavailable: true }));
    } else {
      const lat = await alarmLatency(ctx, base, ctx.quick ? 15 : 50);
      if ('error' in lat) {
        figures.push(missing('Lines/s with 10 log-alarm rules', 'lines/s', lat.error, { target: { op: '>=', value: 500_000 } }));
        figures.push(missing('Log line → alarm command started, p50', 'ms', lat.error, { target: { op: '<=', value: 5 } }));
      } else {
        const firedDir = join(base, 'fired-rules');
        mkdirSync(firedDir);
        const ruled = await runLogto(ctx, base, data, dataBuf, n, alarmLines(firedDir, TEN_RULES), 'rules');
        ctx.log(`logto + 10 rules: ${Math.round(ruled.rate)} lines/s, ${ruled.check.detail}`);
        figures.push(
          figure(`Lines/s with 10 log-alarm rules (${size})`, ruled.rate, 'lines/s', { target: { op: '>=', value: 500_000 }, command: ruled.command, note: `${ruled.seconds.toFixed(2)} s; emperor CPU ${ruled.cpuS.toFixed(2)} s (${((ruled.cpuS / n) * 1e6).toFixed(2)} µs per line); ${ruled.check.detail}; ${((ruled.rate / 1_000_000) * 100).toFixed(0)} % of 1,000,000 lines/s` }),
          figure('  lines lost or damaged on the way (10 rules)', ruled.check.lost + ruled.check.damaged, 'count', { target: { op: '<=', value: 0 }, command: ruled.command, note: ruled.check.detail }),
        );
        if (ruled.profile) notes.push(ruled.profile);
        const s = summarize(lat.samples);
        ctx.log(`alarm latency: ${describe(s)}`);
        figures.push(
          figure('Log line → alarm command started, p50', s.p50, 'ms', { target: { op: '<=', value: 5 }, command: lat.command, note: describe(s) }),
          figure('Log line → alarm command started, p95', s.p95, 'ms', { command: lat.command }),
        );
        notes.push(`Alarm latency: the vassal is \`cat FIFO\`; the bench writes one line \`ALARM-TRIGGER seq=N\` into the fifo (t0) and waits for the file the alarm's command \`cat > DIR/fired\` creates (inotify, t1; the bench removes it before each line): the shell's redirection is the first thing the command does, and the file then holds the line, which the bench checks. Lines are 30 ms apart and each carries a new number, so neither the repeat window (alarm-freq) nor a rate cap applies. 3 warm-up lines are not counted.`);
      }
    }
    notes.unshift(
      `Method: the data file holds ${size}, each \`NNNNNNNN GET /api/v1/items?id=N 200 0.003 bench-payload-…\`. The vassal is \`/bin/sh -c 'cat DATA; exec sleep 100000'\`, so the producer is never the bottleneck: the pipe fills and the emperor's reading, splitting and writing set the pace. logto runs: t0 is the emperor's \`start\` event for the vassal (seen by the bench), t1 the moment the logto file reaches the data's size (polled every 5 ms); then the file is compared with the data: every line must arrive whole, in order, none missing. The rate counts the lines that arrived intact. stdout run: the emperor's stdout is a file; t0 is the time in its \`start\` record, t1 the file's last modification; every JSON record of the vassal is checked in order.`,
    );
    return { figures, notes };
  },
};

export default logs;
