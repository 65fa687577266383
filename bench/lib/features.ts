/**
 * What the emperor under test can do today. The suite grows with the product: a benchmark asks
 * here whether the module behind a feature exists (else its figure is "not available yet") and
 * whether the CLI offers the option it needs. Probed once per run, from the tree as it is.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { emperorEntry } from './emperor.js';

export interface Features {
  /** Long options `emperor --help` lists, e.g. `--stats`. */
  options: ReadonlySet<string>;
  /** Whether a file or directory of the tree exists. */
  module(relPath: string): boolean;
  hasOption(name: string): boolean;
  /** `uwsgi --version`, when Debian's uwsgi is installed. */
  uwsgi: string | undefined;
  /** Whether uwsgi loads its emperor_zeromq plugin. */
  uwsgiZmq: boolean;
}

export function probeFeatures(root: string): Features {
  let help = '';
  try {
    help = execFileSync(process.execPath, [...emperorEntry(root), '--help'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    help = typeof out === 'string' ? out : '';
  }
  const options = new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? []);
  const uwsgi = tryRun('uwsgi', ['--version']);
  const zmqList = uwsgi === undefined ? undefined : tryRun('uwsgi', ['--plugin', 'emperor_zeromq', '--imperial-monitor-list']);
  return {
    options,
    module: (rel) => existsSync(join(root, rel)),
    hasOption: (name) => options.has(name),
    uwsgi,
    uwsgiZmq: zmqList !== undefined && /\bzmq\b/.test(zmqList),
  };
}

function tryRun(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim();
  } catch (err) {
    // uwsgi prints its list and then complains about a missing socket: the output still counts.
    const e = err as { stdout?: string; stderr?: string };
    const text = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim();
    return text === '' ? undefined : text;
  }
}
