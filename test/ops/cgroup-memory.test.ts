/**
 * A vassal's cgroup memory, read from a real cgroup: memory.usage_in_bytes on this machine's
 * cgroup v1 memory hierarchy (memory.current on v2), found from the cgroup.procs files its
 * workers join or from its `cgroup` key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, rmdir, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { VassalPlan } from '../../src/core/plan.js';
import { cgroupCandidates, cgroupMemory } from '../../src/ops/cgroup-memory.js';
import { inCI, waitFor } from '../helpers/wait.js';

const V1 = '/sys/fs/cgroup/memory';

function planWith(worker: { cgroupProcs?: string[] }, cgroup?: string): VassalPlan {
  return { spec: { name: 't.ini', source: 'test', config: { text: '', format: 'ini' }, revision: '1' }, config: { cgroup }, worker: { argv: ['x'], env: {}, ...worker } } as unknown as VassalPlan;
}

test('candidates: the directories of the cgroup.procs files first, then the cgroup key', () => {
  assert.deepEqual(cgroupCandidates(planWith({ cgroupProcs: ['/sys/fs/cgroup/cpu/e/a/cgroup.procs', '/sys/fs/cgroup/memory/e/a/cgroup.procs'] }, 'e/a')), [
    '/sys/fs/cgroup/cpu/e/a',
    '/sys/fs/cgroup/memory/e/a',
    '/sys/fs/cgroup/e/a',
  ]);
  assert.deepEqual(cgroupCandidates(planWith({}, '/sys/fs/cgroup/memory/x')), ['/sys/fs/cgroup/memory/x']);
  assert.deepEqual(cgroupCandidates(planWith({})), []);
});

test('no cgroup: no figure', async () => {
  assert.equal(await cgroupMemory(planWith({})), undefined);
});

test('the memory charged to a real cgroup, whatever its processes are', async (t) => {
  const usable = process.getuid?.() === 0 && (await access(`${V1}/cgroup.procs`).then(() => true, () => false));
  if (!usable) {
    if (inCI) assert.fail('CI runs as root with the cgroup v1 memory hierarchy at /sys/fs/cgroup/memory');
    t.skip('needs root and the cgroup v1 memory hierarchy at /sys/fs/cgroup/memory');
    return;
  }
  const dir = `${V1}/emperor-ops-test-${process.pid}-${Date.now()}`;
  await mkdir(dir);
  const child = spawn(process.execPath, ['-e', 'process.stdin.once("data", () => { globalThis.b = Buffer.alloc(32 << 20, 1); console.log("filled"); }); setInterval(() => {}, 1000)'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await writeFile(`${dir}/cgroup.procs`, String(child.pid));
    child.stdin.write('go\n');
    await new Promise((r) => child.stdout.once('data', r));
    const plan = planWith({ cgroupProcs: ['/sys/fs/cgroup/cpu/nonexistent-emperor/cgroup.procs', `${dir}/cgroup.procs`] });
    const bytes = await waitFor(async () => {
      const b = await cgroupMemory(plan);
      return b !== undefined && b >= 32 << 20 ? b : undefined;
    }, { what: 'the 32 MiB buffer charged to the cgroup' });
    assert.ok(bytes < 1 << 30);
    assert.ok((await cgroupMemory(planWith({}, dir)))! >= 32 << 20, 'found from an absolute cgroup key too');
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await waitFor(async () => rmdir(dir).then(() => true, () => false), { what: `removing ${dir}` });
  }
});
