/**
 * `npm run bench [-- NAME...] [--quick] [--profile] [--no-write] [--list]`
 *
 * Runs the benchmarks (all of them, or the ones named) one after the other against the tree as it
 * is, and writes bench/results.json and bench/RESULTS.md. Heavy benchmarks (thousands of
 * processes) run in full mode or when named; --quick takes fewer samples of everything.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import baseline from './baseline.js';
import converge from './converge.js';
import converge10k from './converge-10k.js';
import destroy from './destroy.js';
import { Cleanup } from './lib/cleanup.js';
import { probeFeatures } from './lib/features.js';
import { describeMachine } from './lib/machine.js';
import { loadAverage } from './lib/proc.js';
import { loadStore, renderMarkdown, saveStore } from './lib/report.js';
import type { Benchmark, BenchContext, BenchResult } from './lib/types.js';
import logs from './logs.js';
import memoryAlarm from './memory-alarm.js';
import reload from './reload.js';
import sources from './sources.js';
import spawnBench from './spawn.js';
import uwsgi from './uwsgi.js';
import uwsgiFleet from './uwsgi-fleet.js';
import { writeFileSync } from 'node:fs';

const BENCHMARKS: readonly Benchmark[] = [baseline, spawnBench, reload, destroy, sources, logs, memoryAlarm, converge, uwsgi, uwsgiFleet, converge10k];

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');

function usage(): string {
  return `usage: npm run bench -- [NAME...] [--quick] [--profile] [--no-write] [--list]\nbenchmarks: ${BENCHMARKS.map((b) => b.name + (b.heavy ? ' (heavy)' : '')).join(', ')}`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const names = argv.filter((a) => !a.startsWith('--'));
  for (const f of flags) {
    if (!['--quick', '--profile', '--no-write', '--list', '--help'].includes(f)) {
      process.stderr.write(`unknown option ${f}\n${usage()}\n`);
      return 2;
    }
  }
  if (flags.has('--help')) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (flags.has('--list')) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(14)} ${b.title}${b.heavy ? ' [heavy: full mode or when named]' : ''}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}\n${usage()}\n`);
    return 2;
  }
  const quick = flags.has('--quick');
  const selected = names.length > 0 ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS.filter((b) => !quick || !b.heavy);

  const log = (msg: string): void => void process.stdout.write(`[bench] ${msg}\n`);
  const cleanup = new Cleanup(log);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${sig}: cleaning up (again to quit at once)`);
    void cleanup.runAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  log('probing the tree (emperor --help, uwsgi)…');
  const features = probeFeatures(ROOT);
  const machine = describeMachine(ROOT);
  log(`${machine.nproc} × ${machine.model}, ${machine.kernel}, Node ${machine.node}, uWSGI ${machine.uwsgi ?? 'absent'}`);

  const ctx: BenchContext = { quick, root: ROOT, features, cleanup, profile: flags.has('--profile'), log };
  const storePath = join(ROOT, 'bench', 'results.json');
  const mdPath = join(ROOT, 'bench', 'RESULTS.md');
  const store = loadStore(storePath);
  const invocation = `npm run bench${argv.length > 0 ? ' -- ' + argv.join(' ') : ''}`;
  let failed = 0;

  for (const b of selected) {
    log(`=== ${b.name}: ${b.title}${quick ? ' (quick)' : ''}`);
    const began = Date.now();
    const loadBefore = loadAverage();
    let result: BenchResult;
    try {
      const out = await b.run(ctx);
      result = { name: b.name, title: b.title, date: new Date(began).toISOString(), rerun: `npm run bench -- ${b.name}${quick ? ' --quick' : ''}`, quick, durationS: (Date.now() - began) / 1000, load: [loadBefore, loadAverage()], machine, figures: out.figures, notes: out.notes };
    } catch (err) {
      failed++;
      const why = err instanceof Error ? err.stack ?? err.message : String(err);
      log(`${b.name} failed: ${why}`);
      result = { name: b.name, title: b.title, date: new Date(began).toISOString(), rerun: `npm run bench -- ${b.name}${quick ? ' --quick' : ''}`, quick, durationS: (Date.now() - began) / 1000, load: [loadBefore, loadAverage()], machine, figures: [], notes: [`**The benchmark failed**: \`${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\``] };
    } finally {
      await cleanup.runAll();
    }
    for (const f of result.figures) {
      const v = f.value === undefined ? '—' : `${+f.value.toFixed(2)} ${f.unit}`;
      log(`  ${f.label}: ${v}${f.target ? ` (target ${f.target.op} ${f.target.value}: ${f.status})` : f.status !== 'info' ? ` (${f.status}${f.note ? ': ' + f.note : ''})` : ''}`);
    }
    store.results[b.name] = result;
    if (!flags.has('--no-write')) {
      saveStore(storePath, store);
      writeFileSync(mdPath, renderMarkdown(store, BENCHMARKS.map((x) => x.name), invocation));
    }
    if (interrupted) break;
  }
  if (!flags.has('--no-write')) log(`results: ${mdPath}`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
