/**
 * Child process for the EACCES test: runs a dir monitor without privileges over the directory in
 * argv[2] and prints each event as a JSON line until it has seen the first snapshot and the errors
 * the initial scan produced.
 */
import { createDirMonitor } from '../../src/monitors/dir.js';
import { testContext } from './harness.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: unprivileged-scan.ts DIR');
const ac = new AbortController();
const deadline = setTimeout(() => ac.abort(), 10_000);
let sawSnapshot = false;
let sawError = false;
for await (const ev of createDirMonitor(dir, testContext()).events(ac.signal)) {
  if (ev.type === 'snapshot') {
    sawSnapshot = true;
    console.log(JSON.stringify({ type: 'snapshot', names: ev.specs.map((s) => s.name).sort() }));
  } else if (ev.type === 'error') {
    sawError = true;
    console.log(JSON.stringify({ type: 'error', name: ev.name, message: ev.error.message }));
  }
  if (sawSnapshot && sawError) ac.abort();
}
clearTimeout(deadline);
