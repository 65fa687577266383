// Builds the project's native parts with node-gyp at install time. A part that cannot build
// (no compiler, no headers) is reported and skipped: the emperor runs without it and says which
// feature is unavailable, so an install never fails on it.
//
// Run by `npm install` (npm puts its bundled node-gyp on PATH and passes npm_config_* settings)
// or by hand as `node src/native/build.mjs`, where neither is given: then npm's bundled node-gyp
// is used, and headers installed beside node (PREFIX/include/node) are used instead of a download.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const parts = [
  { dir: join(root, 'src', 'native'), what: 'the worker exec helper (no-orphan guarantees, privilege drop), the spawn, file-lease and on-demand socket addons' },
  { dir: join(root, 'plugins', 'cgroup-eventfd'), what: 'the eventfd addon (alarm-eventfd, alarm-memory, alarm-oom on cgroup v1)' },
];

/** The node-gyp command: npm's own when npm runs us, else npm's bundled copy, else PATH. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const prefix = dirname(dirname(process.execPath));
  for (const lib of ['lib', 'lib64']) {
    const bundled = join(prefix, lib, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return [process.execPath, bundled];
  }
  return ['node-gyp'];
}

/** --nodedir when headers sit beside this node and nothing else says where they are. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

const [cmd, ...pre] = nodeGyp();
for (const part of parts) {
  if (!existsSync(join(part.dir, 'binding.gyp'))) continue;
  const res = spawnSync(cmd, [...pre, 'rebuild', '--directory', part.dir, ...nodedirArgs()], { stdio: 'inherit', shell: false });
  if (res.status !== 0) {
    console.warn(`emperor: could not build ${part.what} in ${part.dir} (node-gyp exit ${res.status ?? res.error?.message}); continuing without it`);
  }
}
