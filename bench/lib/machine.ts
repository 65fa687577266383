/** The machine a figure was measured on: every result carries it. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import type { Machine } from './types.js';

function run(file: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

export function describeMachine(root: string): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const uwsgi = run('uwsgi', ['--version']);
  const head = run('git', ['rev-parse', '--short', 'HEAD'], root);
  const dirty = run('git', ['status', '--porcelain', '--untracked-files=no'], root);
  return {
    nproc: availableParallelism(),
    model,
    memoryMB: Math.round(totalmem() / 1024 / 1024),
    kernel: `Linux ${release()}`,
    node: process.version,
    uwsgi,
    tree: head === undefined ? 'not a git checkout' : `${head}${dirty ? ' + uncommitted changes' : ''}`,
  };
}
