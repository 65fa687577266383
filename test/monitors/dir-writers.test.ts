/**
 * When a config file is complete: files renamed into place and touched are read at once, files a
 * process still has open for writing only once it closes them (the kernel's read-lease rule), and
 * where that cannot be told, once unchanged for the settle time. Real editors and tools must never
 * make a vassal stop.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { constants, openSync, closeSync } from 'node:fs';
import { chmod, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDirMonitor, createDirMonitorWith } from '../../src/monitors/dir.js';
import { writersOf, writersUnknownReason } from '../../src/native/file-lease.js';
import { MemoryLogger } from '../../src/log/logger.js';
import { withTempDir } from '../helpers/wait.js';
import { Recorder, testContext } from './harness.js';

const INI = '[vassal]\ncommand = node app.js\n';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('emperor-dirwr-', fn);

/** Why the kernel cannot say here whether a file is open for writing, or undefined when it can. */
async function leaseUnavailable(): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'emperor-lease-'));
  try {
    const path = join(dir, 'probe');
    await writeFile(path, 'x');
    const fd = openSync(path, constants.O_RDONLY);
    try {
      return writersOf(fd) === 'unknown' ? writersUnknownReason() : undefined;
    } finally {
      closeSync(fd);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function needLease(t: TestContext): Promise<boolean> {
  const why = await leaseUnavailable();
  if (why !== undefined) t.skip(`the kernel cannot tell open writers here: ${why}`);
  return why === undefined;
}

/** Runs a program to its end; its output on failure. */
function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

test('writersOf says whether another process has a file open for writing', async (t) => {
  if (!(await needLease(t))) return;
  await withDir(async (dir) => {
    const path = join(dir, 'f.ini');
    await writeFile(path, INI);
    const fd = openSync(path, constants.O_RDONLY);
    try {
      assert.equal(writersOf(fd), 'no');
      const holder = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(path)}, 'a'); console.log('open'); process.stdin.resume();`], { stdio: ['pipe', 'pipe', 'inherit'] });
      try {
        await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
        assert.equal(writersOf(fd), 'yes');
      } finally {
        holder.stdin.end();
        await new Promise((resolve) => holder.once('exit', resolve));
      }
      assert.equal(writersOf(fd), 'no');
    } finally {
      closeSync(fd);
    }
  });
});

test('another user\'s file cannot be asked about without CAP_LEASE: the answer is unknown', { skip: process.getuid?.() !== 0 ? 'needs root to run a child as another user' : false }, async (t) => {
  await withDir(async (dir) => {
    const path = join(dir, 'root-owned.ini');
    await writeFile(path, INI, { mode: 0o644 });
    await chmod(dir, 0o755);
    const script = `import { openSync, constants } from 'node:fs'; import { writersOf, writersUnknownReason } from './src/native/file-lease.ts'; const fd = openSync(${JSON.stringify(path)}, constants.O_RDONLY); console.log(JSON.stringify([writersOf(fd), writersUnknownReason()]));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { uid: 65534, gid: 65534, cwd: fileURLToPath(new URL('../..', import.meta.url)), env: { ...process.env, HOME: '/tmp' }, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0 && /EACCES|permission/i.test(r.stderr)) {
      t.skip(`the unprivileged child cannot start here: ${r.stderr.split('\n')[0]}`);
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    const [answer, reason] = JSON.parse(r.stdout.trim()) as [string, string];
    assert.equal(answer, 'unknown');
    assert.match(reason, /EACCES/);
  });
});

test('probing while another process keeps opening the file for writing harms neither side', async (t) => {
  if (!(await needLease(t))) return;
  await withDir(async (dir) => {
    const path = join(dir, 'busy.ini');
    await writeFile(path, INI);
    // A writer that opens and closes the file as fast as it can, racing with every probe's lease.
    const script = `const fs = require('fs'); const t = Date.now(); let n = 0; while (Date.now() - t < 1500) { fs.closeSync(fs.openSync(${JSON.stringify(path)}, 'a')); n++; } console.log(n);`;
    const writer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    writer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => writer.once('exit', (code) => resolve(code)));
    const fd = openSync(path, constants.O_RDONLY);
    const answers = new Set<string>();
    try {
      let running = true;
      void exited.then(() => (running = false));
      while (running) {
        for (let i = 0; i < 200; i++) answers.add(writersOf(fd));
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      closeSync(fd);
    }
    assert.equal(await exited, 0);
    assert.ok(Number(out) > 0, 'the writer got on');
    assert.ok(!answers.has('unknown'), `answers: ${[...answers].join(', ')}`);
  });
});

test('a file another process writes slowly, keeping it open, is read once, complete, after it closes', async (t) => {
  if (!(await needLease(t))) return;
  await withDir(async (dir) => {
    // Pauses five times the settle time: a quiet-time rule alone would read it half-written.
    const rec = new Recorder(createDirMonitor(dir, testContext({ settleMs: 20, freq: 1 })));
    try {
      await rec.watching();
      const m = rec.mark;
      const chunks = ['[vassal]\n', 'command = node app.js\n', 'processes = 3\n', 'env = A=1\n', 'env = B=2\n'];
      const script = `
        const fs = require('fs');
        const fd = fs.openSync(${JSON.stringify(join(dir, 'slow.ini'))}, 'w');
        const chunks = ${JSON.stringify(chunks)};
        let i = 0;
        const next = () => {
          if (i === chunks.length) { fs.closeSync(fd); return; }
          fs.writeSync(fd, chunks[i++]);
          setTimeout(next, 100); // the writer's own pace
        };
        next();`;
      const writer = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
      await new Promise((resolve) => writer.once('exit', resolve));
      const up = await rec.upsert('slow.ini', m);
      assert.equal(up.spec.config.text, chunks.join(''));
      await rec.snapshot(rec.mark, 'the next rescan');
      assert.deepEqual(rec.about('slow.ini', m).map((e) => e.type), ['upsert'], 'one upsert, never a partial one');
    } finally {
      await rec.stop();
    }
  });
});

test('a file renamed into place, and a touch, are read without waiting for the settle time', async (t) => {
  if (!(await needLease(t))) return;
  await withDir(async (dir) => {
    // A settle time far beyond the recorder's 10 s deadline: only the lease answer can be this quick.
    const rec = new Recorder(createDirMonitor(dir, testContext({ settleMs: 60_000, freq: 30 })));
    try {
      await rec.watching();
      let m = rec.mark;
      await writeFile(join(dir, '.app.ini.tmp'), INI);
      await rename(join(dir, '.app.ini.tmp'), join(dir, 'app.ini'));
      const added = await rec.upsert('app.ini', m);
      assert.equal(added.spec.config.text, INI);

      m = rec.mark;
      const later = new Date(Date.now() + 5000);
      await utimes(join(dir, 'app.ini'), later, later);
      const touched = await rec.upsert('app.ini', m);
      assert.notEqual(touched.spec.revision, added.spec.revision);
    } finally {
      await rec.stop();
    }
  });
});

test('a file held open for writing but unchanged for 5 s is read anyway', async (t) => {
  if (!(await needLease(t))) return;
  await withDir(async (dir) => {
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 30 })));
    const path = join(dir, 'held.ini');
    const holder = spawn(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'w'); fs.writeSync(fd, ${JSON.stringify(INI)}); console.log('written'); process.stdin.resume();`], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await rec.watching();
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const up = await rec.upsert('held.ini', 0);
      assert.equal(up.spec.config.text, INI);
      assert.equal(holder.exitCode, null, 'read while the writer still holds it');
    } finally {
      holder.stdin.end();
      await rec.stop();
    }
  });
});

test('where open writers cannot be known, a file is read once unchanged for the settle time', async () => {
  await withDir(async (dir) => {
    const log = new MemoryLogger();
    const rec = new Recorder(createDirMonitorWith(dir, testContext({ settleMs: 400, freq: 1, log }), { writers: () => 'unknown' }));
    try {
      await rec.watching();
      const m = rec.mark;
      const chunks = ['[vassal]\n', 'command = node app.js\n', 'processes = 3\n', 'env = A=1\n'];
      const script = `
        const fs = require('fs');
        const fd = fs.openSync(${JSON.stringify(join(dir, 'slow.ini'))}, 'w');
        const chunks = ${JSON.stringify(chunks)};
        let i = 0;
        const next = () => {
          if (i === chunks.length) { fs.closeSync(fd); return; }
          fs.writeSync(fd, chunks[i++]);
          setTimeout(next, 25); // the writer's own pace, well within the settle time
        };
        next();`;
      const writer = spawn(process.execPath, ['-e', script], { stdio: 'inherit' });
      await new Promise((resolve) => writer.once('exit', resolve));
      const up = await rec.upsert('slow.ini', m);
      assert.equal(up.spec.config.text, chunks.join(''));
      await rec.snapshot(rec.mark, 'the next rescan');
      assert.deepEqual(rec.about('slow.ini', m).map((e) => e.type), ['upsert']);
      assert.equal(log.records.filter((r) => /cannot tell whether a config file is still being written.*--settle 400 ms/.test(r.msg)).length, 1, 'the fallback is logged once');
    } finally {
      await rec.stop();
    }
  });
});

/** Real editors and tools, each in a process of its own: every save is one upsert, never a remove. */
const saves: Array<{ what: string; tool: string; args: (file: string, next: string) => string[] }> = [
  { what: 'vim (writes in place: truncate, write, close)', tool: 'vim', args: (f) => ['-E', '-s', '-u', 'NONE', '-N', '-c', '%s/A=1/A=2/', '-c', 'wq', f] },
  { what: 'sed -i (temp file renamed over)', tool: 'sed', args: (f) => ['-i', 's/A=1/A=2/', f] },
  {
    what: 'an editor that renames the file to a backup and writes a new one',
    tool: 'perl',
    args: (f, next) => ['-e', `rename "${f}", "${f}~" or die; open(my $o, ">", "${f}") or die; print $o ${JSON.stringify(next)}; close $o; unlink "${f}~";`],
  },
  {
    what: 'a tool that deletes the file and writes it again',
    tool: 'perl',
    args: (f, next) => ['-e', `unlink "${f}" or die; open(my $o, ">", "${f}") or die; print $o ${JSON.stringify(next)}; close $o;`],
  },
];

for (const s of saves) {
  test(`a save by ${s.what} is one upsert with the new text, no remove`, async (t) => {
    if (spawnSync('sh', ['-c', `command -v ${s.tool}`]).status !== 0) {
      t.skip(`${s.tool} is not installed`);
      return;
    }
    await withDir(async (dir) => {
      const before = INI + 'env = A=1\n';
      const after = INI + 'env = A=2\n';
      await writeFile(join(dir, 'app.ini'), before);
      const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 1 })));
      try {
        await rec.watching();
        const m = rec.mark;
        run(s.tool, s.args('app.ini', after), dir);
        await rec.upsert('app.ini', m, (spec) => spec.config.text === after);
        await rec.snapshot(rec.mark, 'the next rescan');
        const seen = rec.about('app.ini', m);
        assert.ok(!seen.some((e) => e.type === 'remove'), `no remove: ${seen.map((e) => e.type).join(', ')}`);
        assert.ok(seen.every((e) => e.type !== 'upsert' || e.spec.config.text === after), 'never a partial text');
      } finally {
        await rec.stop();
      }
    });
  });
}

test('a deleted file that stays gone is removed at once, not after a rescan', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'gone.ini'), INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 30 })));
    try {
      await rec.watching();
      const m = rec.mark;
      await rm(join(dir, 'gone.ini'));
      await rec.removal('gone.ini', m);
      assert.deepEqual(rec.about('gone.ini', m).map((e) => e.type), ['remove']);
    } finally {
      await rec.stop();
    }
  });
});
