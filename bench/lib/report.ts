/**
 * bench/results.json keeps the latest result of every benchmark (a run of one benchmark replaces
 * only its own section); bench/RESULTS.md is rendered from it, each section with its date, machine,
 * load and the exact commands behind its figures.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { BenchResult, Figure, Machine } from './types.js';

interface Store {
  results: Record<string, BenchResult>;
}

export function loadStore(path: string): Store {
  if (!existsSync(path)) return { results: {} };
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Store;
  } catch {
    return { results: {} };
  }
}

export function saveStore(path: string, store: Store): void {
  writeFileSync(path, JSON.stringify(store, null, 2) + '\n');
}

export function formatValue(f: Figure): string {
  if (f.value === undefined || Number.isNaN(f.value)) return '—';
  const v = f.value;
  let text: string;
  if (f.unit === 'lines/s' || f.unit === 'count' || f.unit === 'processes') text = Math.round(v).toLocaleString('en-US');
  else if (f.unit === '% of a core') text = v.toFixed(2);
  else if (Math.abs(v) >= 100) text = v.toFixed(0);
  else if (Math.abs(v) >= 10) text = v.toFixed(1);
  else text = v.toFixed(2);
  return `${text} ${f.unit}`;
}

export function formatTarget(f: Figure): string {
  if (!f.target) return '';
  const v = f.unit === 'lines/s' ? f.target.value.toLocaleString('en-US') : String(f.target.value);
  return `${f.target.op === '<=' ? '≤' : f.target.op === '>=' ? '≥' : '<'} ${v} ${f.unit}`;
}

const STATUS: Record<Figure['status'], string> = {
  met: '✅ met',
  missed: '❌ missed',
  info: 'info',
  unavailable: 'not available yet',
  unmeasured: 'not measured',
};

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function machineLine(m: Machine): string {
  return `${m.nproc} × ${m.model}, ${(m.memoryMB / 1024).toFixed(1)} GB RAM, ${m.kernel}, Node ${m.node}, uWSGI ${m.uwsgi ?? 'not installed'}; tree ${m.tree}`;
}

export function renderMarkdown(store: Store, order: readonly string[], invocation: string): string {
  const results = order.map((n) => store.results[n]).filter((r): r is BenchResult => r !== undefined);
  const out: string[] = [];
  out.push('# Benchmark results', '');
  out.push('Written by `npm run bench` (bench/run.ts); every figure below comes from a script in bench/ that anyone can rerun with the command given in its section. Times are what an outside observer sees: the benchmark arms a wait for the emperor\'s JSON event (or for a file to appear, via inotify), then causes the change, and takes the difference of the two moments. Percentiles interpolate between ranks. The emperor runs compiled, as the installed `emperor` bin does (`node dist/src/cli/main.js`; the bench runs `npm run build` first when dist is missing or older than src; `BENCH_EMPEROR=tsx` runs the sources through tsx instead). The machine is shared with other work, so each section states the 1-minute load average before and after it ran.', '');
  const machines = new Map<string, Machine>();
  for (const r of results) machines.set(machineLine(r.machine), r.machine);
  out.push('## Machine', '');
  for (const r of results.slice(0, 1)) {
    const m = r.machine;
    out.push(`| nproc | CPU model | memory | kernel | node | uwsgi |`, `|---|---|---|---|---|---|`);
    out.push(`| ${m.nproc} | ${cell(m.model)} | ${(m.memoryMB / 1024).toFixed(1)} GB | ${m.kernel} | ${m.node} | ${m.uwsgi ?? 'not installed'} |`, '');
  }
  if (machines.size > 1) out.push('Sections were measured on different machines or trees; each names its own.', '');
  out.push(`Last invocation: \`${invocation}\`.`, '');

  out.push('## Summary: every figure against its target', '');
  out.push('| Benchmark | Figure | Measured | Target | Status |', '|---|---|---|---|---|');
  for (const r of results) {
    for (const f of r.figures) {
      if (!f.target && f.status === 'info') continue;
      out.push(`| ${r.name} | ${cell(f.label)} | ${formatValue(f)} | ${formatTarget(f)} | ${STATUS[f.status]} |`);
    }
  }
  out.push('', 'Figures without a target (breakdowns, the uWSGI reference, variants) are in the sections.', '');

  for (const r of results) {
    out.push(`## ${r.title} (\`${r.name}\`)`, '');
    const load = `load ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}`;
    out.push(`Measured ${r.date} in ${r.durationS.toFixed(0)} s (${load})${r.quick ? ', **quick mode** (fewer iterations)' : ''}; tree ${r.machine.tree}. Rerun: \`${r.rerun}\`.`);
    if (machines.size > 1) out.push('', `Machine: ${machineLine(r.machine)}.`);
    out.push('');
    const commands: string[] = [];
    const ref = (c: string | undefined): string => {
      if (!c) return '';
      let i = commands.indexOf(c);
      if (i === -1) i = commands.push(c) - 1;
      return `[${i + 1}]`;
    };
    out.push('| Figure | Measured | Target | Status | Cmd | Note |', '|---|---|---|---|---|---|');
    for (const f of r.figures) {
      out.push(`| ${cell(f.label)} | ${formatValue(f)} | ${formatTarget(f)} | ${STATUS[f.status]} | ${ref(f.command)} | ${cell(f.note ?? '')} |`);
    }
    out.push('');
    if (commands.length > 0) {
      out.push('Commands behind the figures (run from the repository root; temporary paths as they were):', '');
      commands.forEach((c, i) => out.push(`${i + 1}. \`${c}\``));
      out.push('');
    }
    for (const n of r.notes) out.push(n, '');
  }
  return out.join('\n');
}
