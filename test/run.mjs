// Runs every test file under test/ with node's test runner (Node 20 has no glob support in
// --test). Extra arguments narrow the run: `node test/run.mjs test/core` or a single file.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const roots = args.length > 0 ? args : ['test'];

function collect(path, out) {
  const st = statSync(path);
  if (st.isFile()) {
    if (path.endsWith('.test.ts')) out.push(path);
    return out;
  }
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry === 'fixtures') continue;
    collect(join(path, entry), out);
  }
  return out;
}

const files = roots.flatMap((r) => collect(join(root, r), [])).sort().map((f) => relative(root, f));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(res.status ?? 1);
