import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventfdAvailable, watchEventfd, type EventfdWatch } from '../../../plugins/cgroup-eventfd/eventfd.js';
import { waitFor } from '../../helpers/wait.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const allocFixture = join(repo, 'test', 'fixtures', 'native-alloc.mjs');
const memoryCgroups = '/sys/fs/cgroup/memory';
const MB = 1024 * 1024;
const needsCgroups = process.getuid?.() !== 0
  ? 'needs root to create cgroups'
  : !existsSync(join(memoryCgroups, 'cgroup.event_control'))
    ? `no cgroup v1 memory hierarchy at ${memoryCgroups}`
    : false;

async function withCgroup(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = join(memoryCgroups, `emperor-test-eventfd-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(dir);
  try {
    await fn(dir);
  } finally {
    // A killed member takes a moment to leave; rmdir fails with EBUSY until it has.
    await waitFor(async () => {
      await rmdir(dir);
      return true;
    }, { what: `removal of ${dir}` });
  }
}

describe('cgroup-eventfd', () => {
  it('the addon is built and loads', () => {
    assert.deepEqual(eventfdAvailable(), { ok: true });
  });

  it('fires at a memory threshold, then on OOM, and the worker dies by SIGKILL', { skip: needsCgroups }, async () => {
    await withCgroup(async (cg) => {
      await writeFile(join(cg, 'memory.limit_in_bytes'), String(60 * MB));
      // Where swap exists, memory+swap must be capped too or the worker swaps instead of dying.
      if (existsSync(join(cg, 'memory.memsw.limit_in_bytes'))) await writeFile(join(cg, 'memory.memsw.limit_in_bytes'), String(60 * MB));

      const events: Array<{ kind: 'threshold' | 'oom'; count: bigint; peak: number }> = [];
      const errors: Error[] = [];
      // Read synchronously in the callback: the peak usage the kernel had seen when it notified.
      const peak = (): number => Number(readFileSync(join(cg, 'memory.max_usage_in_bytes'), 'utf8'));
      const watches: EventfdWatch[] = [
        watchEventfd(join(cg, 'cgroup.event_control'), join(cg, 'memory.usage_in_bytes'), String(20 * MB),
          (count) => events.push({ kind: 'threshold', count, peak: peak() }), (err) => errors.push(err)),
        watchEventfd(join(cg, 'cgroup.event_control'), join(cg, 'memory.oom_control'), undefined,
          (count) => events.push({ kind: 'oom', count, peak: peak() }), (err) => errors.push(err)),
      ];
      let ticks = 0;
      const ticker = setInterval(() => { ticks += 1; }, 5);
      try {
        const worker = spawn('sh', ['-c', `echo $$ > ${join(cg, 'cgroup.procs')} && exec "$0" "$1"`, process.execPath, allocFixture],
          { stdio: ['ignore', 'pipe', 'inherit'] });
        const lines: string[] = [];
        createInterface({ input: worker.stdout }).on('line', (l) => lines.push(l));
        const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          worker.once('close', (code, signal) => resolve({ code, signal })));

        assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, `worker output: ${lines.join(' | ')}`);
        await waitFor(() => events.some((e) => e.kind === 'oom'), { what: 'the OOM notification' });
        assert.deepEqual(errors, []);

        const threshold = events.find((e) => e.kind === 'threshold');
        const oom = events.find((e) => e.kind === 'oom');
        assert.ok(threshold && oom, JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
        assert.ok(events.indexOf(threshold) < events.indexOf(oom), 'the threshold is crossed before the OOM');
        assert.ok(threshold.count >= 1n && oom.count >= 1n);
        assert.ok(threshold.peak >= 20 * MB, `usage had crossed 20 MB at the threshold event (peak ${threshold.peak})`);
        assert.ok(lines.some((l) => /^allocated \d+ MB$/.test(l)), 'the worker was allocating when it was killed');
        assert.match(await readFile(join(cg, 'memory.oom_control'), 'utf8'), /^oom_kill [1-9]/m);
        assert.ok(ticks > 0, 'timers ran while the watches were open');
      } finally {
        clearInterval(ticker);
        for (const w of watches) w.close();
      }
    });
  });

  it('does not hold the event loop or the thread pool while waiting', { skip: needsCgroups }, async () => {
    await withCgroup(async (cg) => {
      // More watches than the thread pool has threads (4): a blocking read per watch would starve it.
      const unexpected: string[] = [];
      const watches = Array.from({ length: 8 }, (_, i) =>
        watchEventfd(join(cg, 'cgroup.event_control'), join(cg, 'memory.usage_in_bytes'), String((100 + i) * MB),
          (count) => unexpected.push(`event ${count}`), (err) => unexpected.push(err.message)));
      try {
        let ticks = 0;
        await waitFor(() => ++ticks >= 20, { intervalMs: 5, timeoutMs: 5_000, what: 'timer ticks' });
        await Promise.all([
          readFile(join(cg, 'memory.usage_in_bytes'), 'utf8'),
          promisify(pbkdf2)('x', 'y', 1, 32, 'sha256'),
          promisify(pbkdf2)('x', 'y', 1, 32, 'sha256'),
          promisify(pbkdf2)('x', 'y', 1, 32, 'sha256'),
          promisify(pbkdf2)('x', 'y', 1, 32, 'sha256'),
        ]);
        assert.deepEqual(unexpected, []);
      } finally {
        for (const w of watches) w.close();
      }
    });
  });

  it('close() is idempotent and releases the loop', { skip: needsCgroups, timeout: 30_000 }, async () => {
    await withCgroup(async (cg) => {
      const w = watchEventfd(join(cg, 'cgroup.event_control'), join(cg, 'memory.oom_control'), undefined, () => {}, () => {});
      w.close();
      w.close();
      // A process whose only watch was closed exits on its own.
      const script = `import { watchEventfd } from ${JSON.stringify(join(repo, 'plugins', 'cgroup-eventfd', 'eventfd.ts'))};
        const w = watchEventfd(${JSON.stringify(join(cg, 'cgroup.event_control'))}, ${JSON.stringify(join(cg, 'memory.oom_control'))}, undefined, () => {}, () => {});
        setTimeout(() => { w.close(); w.close(); console.log('closed'); }, 50);`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      assert.equal(code, 0);
      assert.equal(out.trim(), 'closed');
    });
  });

  it('names the file and the reason when registration fails', { skip: needsCgroups }, async () => {
    await withCgroup(async (cg) => {
      assert.throws(
        () => watchEventfd(join(cg, 'no-such-control'), join(cg, 'memory.oom_control'), undefined, () => {}, () => {}),
        { code: 'ENOENT', path: join(cg, 'no-such-control'), message: `cannot open ${join(cg, 'no-such-control')}: No such file or directory` },
      );
      assert.throws(
        () => watchEventfd(join(cg, 'cgroup.event_control'), join(cg, 'no-such-subject'), undefined, () => {}, () => {}),
        { code: 'ENOENT', message: `cannot open ${join(cg, 'no-such-subject')}: No such file or directory` },
      );
      assert.throws(
        () => watchEventfd(join(cg, 'cgroup.event_control'), join(cg, 'memory.usage_in_bytes'), 'lots', () => {}, () => {}),
        { code: 'EINVAL', message: `cannot write ${join(cg, 'cgroup.event_control')}: Invalid argument` },
      );
      assert.throws(
        () => watchEventfd('', join(cg, 'memory.usage_in_bytes'), undefined, () => {}, () => {}),
        { code: 'EMP_ERR_USAGE', message: 'controlFile: expected a file path, got ""' },
      );
    });
  });
});
