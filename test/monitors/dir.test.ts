import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, lchown, mkdir, open, rename, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isEmperorError, ErrorCodes } from '../../src/errors.js';
import { createDirMonitor, createDirMonitorWith } from '../../src/monitors/dir.js';
import type { MonitorEvent } from '../../src/monitors/types.js';
import { waitFor, withTempDir } from '../helpers/wait.js';
import { Recorder, names, specIn, testContext, type ErrorEvent } from './harness.js';

const INI = '[vassal]\ncommand = node app.js\n';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('emperor-dirmon-', fn);

test('the factory refuses a missing directory, a file and an empty argument with USAGE', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'plain.ini'), INI);
    for (const arg of [join(dir, 'nope'), `dir://${join(dir, 'nope')}`, join(dir, 'plain.ini'), 'dir://', '']) {
      assert.throws(
        () => createDirMonitor(arg, testContext()),
        (err: unknown) => isEmperorError(err, ErrorCodes.USAGE) && err.message.includes(arg === '' ? '""' : arg),
        `argument ${JSON.stringify(arg)}`,
      );
    }
    assert.throws(() => createDirMonitor(dir, testContext({ freq: 0 })), (err: unknown) => isEmperorError(err, ErrorCodes.USAGE) && /freq/.test(err.message));
    assert.equal(createDirMonitor(`dir://${dir}`, testContext()).id, `dir://${dir}`);
    assert.equal(createDirMonitor(dir, testContext()).id, dir);
  });
});

test('the first event is one snapshot of every valid config, with text, format, path and owner', async () => {
  await withDir(async (dir) => {
    const files: Record<string, string> = {
      'a.ini': INI,
      'b.yaml': 'vassal:\n  command: b\n',
      'c.yml': 'vassal:\n  command: c\n',
      'd.json': '{"vassal":{"command":"d"}}',
      'e.js': '{"vassal":{"command":"e"}}',
      'f.xml': '<vassal><command>f</command></vassal>',
    };
    const ignored = ['notes.txt', 'app.skel', '.hidden.ini', 'a.ini~', '#a.ini#', '.#a.ini', '.a.ini.swp', '4913', 'x.tmp', 'a.ini.tmp123', '.a.ini.Xy12Ab', '.ini'];
    for (const [n, t] of Object.entries(files)) await writeFile(join(dir, n), t);
    for (const n of ignored) await writeFile(join(dir, n), INI);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'deep.ini'), INI);
    await chown(join(dir, 'a.ini'), 1234, 5678).catch(() => undefined);

    const id = `dir://${dir}`;
    const rec = new Recorder(createDirMonitor(id, testContext()));
    try {
      const snap = await rec.snapshot();
      assert.equal(rec.events[0], snap, 'the snapshot comes first');
      assert.deepEqual(names(snap), Object.keys(files).sort());
      const formats = Object.fromEntries(snap.specs.map((s) => [s.name, s.config.format]));
      assert.deepEqual(formats, { 'a.ini': 'ini', 'b.yaml': 'yaml', 'c.yml': 'yaml', 'd.json': 'json', 'e.js': 'json', 'f.xml': 'xml' });
      for (const s of snap.specs) {
        assert.equal(s.source, id);
        assert.equal(s.config.path, join(dir, s.name));
        assert.equal(s.config.text, files[s.name]);
        const st = await stat(join(dir, s.name));
        assert.equal(s.uid, st.uid);
        assert.equal(s.gid, st.gid);
        assert.ok(s.revision.length > 0);
      }
      if (process.getuid?.() === 0) assert.deepEqual([specIn(snap, 'a.ini')?.uid, specIn(snap, 'a.ini')?.gid], [1234, 5678]);
    } finally {
      await rec.stop();
    }
  });
});

test('add, touch, edit and delete are each seen live as one event', async () => {
  await withDir(async (dir) => {
    const rec = new Recorder(createDirMonitor(dir, testContext()));
    try {
      await rec.watching(); // the next rescan is 30 s away: every event below is the watcher's
      const path = join(dir, 'app.ini');

      let m = rec.mark;
      await writeFile(path, INI);
      const added = await rec.upsert('app.ini', m);
      assert.equal(added.spec.config.text, INI);

      m = rec.mark;
      const later = new Date(Date.now() + 5000);
      await utimes(path, later, later);
      const touched = await rec.upsert('app.ini', m);
      assert.notEqual(touched.spec.revision, added.spec.revision, 'touch is a new revision');
      assert.equal(touched.spec.config.text, INI);

      m = rec.mark;
      await writeFile(path, INI + 'processes = 2\n');
      const edited = await rec.upsert('app.ini', m);
      assert.equal(edited.spec.config.text, INI + 'processes = 2\n');
      assert.notEqual(edited.spec.revision, touched.spec.revision);

      m = rec.mark;
      await unlink(path);
      await rec.removal('app.ini', m);
      assert.deepEqual(rec.about('app.ini', m).map((e) => e.type), ['remove']);
    } finally {
      await rec.stop();
    }
  });
});

test('an edit that keeps size and mtime is still a new revision; a rescan of an unchanged file keeps it', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'same.ini');
    const t = new Date('2024-01-02T03:04:05Z');
    await writeFile(path, '[vassal]\ncommand = aaa\n');
    await utimes(path, t, t);
    const rec = new Recorder(createDirMonitorWith(dir, testContext({ freq: 0.2 }), { watch: false }));
    try {
      const first = specIn(await rec.snapshot(), 'same.ini');
      assert.ok(first);
      const again = specIn(await rec.snapshot(rec.mark, 'a second snapshot'), 'same.ini');
      assert.equal(again?.revision, first.revision, 'same mtime and content, same revision');

      await writeFile(path, '[vassal]\ncommand = bbb\n');
      await utimes(path, t, t);
      const snap = await rec.next(
        (e): e is Extract<MonitorEvent, { type: 'snapshot' }> => e.type === 'snapshot' && specIn(e, 'same.ini')?.config.text === '[vassal]\ncommand = bbb\n',
        'a snapshot with the new content',
      );
      assert.notEqual(specIn(snap, 'same.ini')?.revision, first.revision);
    } finally {
      await rec.stop();
    }
  });
});

test('an atomic save (temp file renamed over) is one upsert with the full content, no remove', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'app.ini');
    await writeFile(path, INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 1 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      const next = INI + 'processes = 4\n';
      for (const tmp of ['.app.ini.Xk3j9Q', 'app.ini.tmp4711']) {
        await writeFile(join(dir, tmp), next);
        await rename(join(dir, tmp), path);
      }
      await rec.upsert('app.ini', m, (s) => s.config.text === next);
      // A rescan later, still nothing but that one upsert.
      const after = rec.mark;
      const snap = await rec.snapshot(after, 'the next rescan');
      assert.deepEqual(names(snap), ['app.ini']);
      assert.deepEqual(rec.about('app.ini', m).map((e) => e.type), ['upsert']);
      assert.ok(!rec.since(m).some((e) => e.type === 'upsert' && e.spec.name !== 'app.ini'), 'temp names never become vassals');
    } finally {
      await rec.stop();
    }
  });
});

test('an editor that moves the file away and writes a new one causes no remove', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'app.ini');
    await writeFile(path, INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 1 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      // vim with backupcopy=no: rename to a backup, write anew, drop the backup; plus a swap file.
      await writeFile(join(dir, '.app.ini.swp'), 'swap');
      await rename(path, join(dir, 'app.ini~'));
      await writeFile(path, INI + 'env = A=1\n');
      await unlink(join(dir, 'app.ini~'));
      await unlink(join(dir, '.app.ini.swp'));
      // And a plain delete-then-recreate.
      await unlink(path);
      await writeFile(path, INI + 'env = A=2\n');
      await rec.upsert('app.ini', m, (s) => s.config.text.endsWith('A=2\n'));
      await rec.snapshot(rec.mark, 'the next rescan');
      assert.ok(!rec.about('app.ini', m).some((e) => e.type === 'remove'), 'no remove/add flap');
      const last = rec.about('app.ini', m).at(-1);
      assert.ok(last?.type === 'upsert' && last.spec.config.text.endsWith('A=2\n'));
    } finally {
      await rec.stop();
    }
  });
});

test('a file written in slow chunks is announced once, complete', async () => {
  await withDir(async (dir) => {
    const rec = new Recorder(createDirMonitor(dir, testContext({ settleMs: 400, freq: 1 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      const chunks = ['[vassal]\n', 'command = node app.js\n', 'processes = 3\n', 'env = A=1\n', 'env = B=2\n'];
      const fh = await open(join(dir, 'slow.ini'), 'w');
      for (const c of chunks) {
        await fh.write(c);
        await sleep(25); // the writer's own pace, not a wait for the monitor
      }
      await fh.close();
      const up = await rec.upsert('slow.ini', m);
      assert.equal(up.spec.config.text, chunks.join(''));
      await rec.snapshot(rec.mark, 'the next rescan');
      assert.deepEqual(rec.about('slow.ini', m).map((e) => e.type), ['upsert']);
    } finally {
      await rec.stop();
    }
  });
});

test('editor swap and backup files never become vassals', async () => {
  await withDir(async (dir) => {
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 1 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      for (const n of ['.app.ini.swp', '.app.ini.swx', 'app.ini~', '#app.ini#', '.#app.ini', '4913', 'app.ini.tmp', 'x.tmp', '.app.ini.kate-swp', 'app.ini.bak']) {
        await writeFile(join(dir, n), INI);
      }
      await writeFile(join(dir, 'marker.ini'), INI);
      await rec.upsert('marker.ini', m);
      const snap = await rec.snapshot(rec.mark, 'the next rescan');
      assert.deepEqual(names(snap), ['marker.ini']);
      assert.deepEqual(rec.since(m).filter((e) => e.type !== 'snapshot').map((e) => (e.type === 'upsert' ? e.spec.name : e.type)), ['marker.ini']);
    } finally {
      await rec.stop();
    }
  });
});

test('extra extensions are accepted and their format is sniffed from the text', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'a.conf'), '; comment\n[vassal]\ncommand = a\n');
    await writeFile(join(dir, 'b.conf'), '{ "vassal": { "command": "b" } }');
    await writeFile(join(dir, 'c.conf'), '# yaml\nvassal:\n  command: c\n');
    await writeFile(join(dir, 'd.conf'), '<?xml version="1.0"?>\n<vassal><command>d</command></vassal>');
    await writeFile(join(dir, 'e.other'), INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ extraExtensions: ['.conf'] })));
    try {
      const snap = await rec.snapshot();
      assert.deepEqual(Object.fromEntries(snap.specs.map((s) => [s.name, s.config.format])), { 'a.conf': 'ini', 'b.conf': 'json', 'c.conf': 'yaml', 'd.conf': 'xml' });
    } finally {
      await rec.stop();
    }
  });
});

test('a file over the size limit is an error naming file and sizes, and the good version stays', async () => {
  await withDir(async (dir) => {
    const big = Buffer.alloc(50 * 1024 * 1024, 0x61);
    await writeFile(join(dir, 'huge.ini'), big);
    await writeFile(join(dir, 'app.ini'), INI);
    const limit = 1024 * 1024;
    const rec = new Recorder(createDirMonitor(dir, testContext({ maxConfigBytes: limit, freq: 0.3, settleMs: 200 })));
    try {
      const tooBig = (name: string) => (e: ErrorEvent) =>
        e.name === name && e.error.message.includes(String(big.length)) && e.error.message.includes(String(limit)) && (e.error as { file?: string }).file === join(dir, name);
      await rec.error(tooBig('huge.ini'), 'the size error for huge.ini');
      const snap = await rec.snapshot();
      assert.deepEqual(names(snap), ['app.ini']);

      const m = rec.mark;
      await writeFile(join(dir, 'app.ini'), big);
      await rec.error(tooBig('app.ini'), 'the size error for app.ini', m);
      // Two rescans later: no remove, the old version still in the snapshot, the error not repeated.
      const s1 = await rec.snapshot(rec.mark, 'a rescan');
      await rec.snapshot(rec.events.indexOf(s1) + 1, 'another rescan');
      const lastSnap = rec.since(m).filter((e) => e.type === 'snapshot').at(-1);
      assert.ok(lastSnap?.type === 'snapshot' && specIn(lastSnap, 'app.ini')?.config.text === INI);
      assert.deepEqual(rec.about('app.ini', m).map((e) => e.type), ['error']);
      assert.equal(rec.about('huge.ini', m).length, 0, 'the old error is not repeated at each rescan');

      // A changed file is a new fault, reported again.
      const m2 = rec.mark;
      await writeFile(join(dir, 'huge.ini'), Buffer.alloc(2 * limit, 0x62));
      await rec.error((e) => e.name === 'huge.ini' && e.error.message.includes(String(2 * limit)), 'the error for the new size', m2);
      // Shrunk below the limit: announced.
      await writeFile(join(dir, 'huge.ini'), INI);
      await rec.upsert('huge.ini', m2);
    } finally {
      await rec.stop();
    }
  });
});

test('a directory named like a config and a symlink loop are reported once each', async () => {
  await withDir(async (dir) => {
    await mkdir(join(dir, 'x.ini'));
    await writeFile(join(dir, 'ok.ini'), INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 0.3 })));
    try {
      const snap = await rec.snapshot();
      assert.deepEqual(names(snap), ['ok.ini']);
      const isDir = await rec.error((e) => e.name === 'x.ini', 'the x.ini error');
      assert.match(isDir.error.message, /directory/);
      assert.equal((isDir.error as { file?: string }).file, join(dir, 'x.ini'));

      const m = rec.mark;
      await symlink(join(dir, 'loop-b.ini'), join(dir, 'loop-a.ini'));
      await symlink(join(dir, 'loop-a.ini'), join(dir, 'loop-b.ini'));
      const loop = await rec.error((e) => e.name === 'loop-a.ini', 'the loop error', m);
      assert.match(loop.error.message, /symlink loop/);
      assert.equal((loop.error as { file?: string }).file, join(dir, 'loop-a.ini'));

      // Adding a file inside x.ini/ changes nothing to report.
      await writeFile(join(dir, 'x.ini', 'inner'), 'x');
      const s1 = await rec.snapshot(rec.mark, 'a rescan');
      await rec.snapshot(rec.events.indexOf(s1) + 1, 'another rescan');
      assert.equal(rec.about('x.ini').length, 1, 'x.ini reported once');
      assert.equal(rec.about('loop-a.ini').length, 1, 'loop-a.ini reported once');
      assert.equal(rec.about('loop-b.ini').length, 1, 'loop-b.ini reported once');
      assert.ok(rec.events.every((e) => e.type !== 'snapshot' || names(e).join() === 'ok.ini'));
    } finally {
      await rec.stop();
    }
  });
});

test('binary garbage is announced as it is (the config loader rejects it); a fifo is an error', async () => {
  await withDir(async (dir) => {
    const garbage = Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x80, 0x0a, 0x5b, 0x00]);
    await writeFile(join(dir, 'bin.ini'), garbage);
    const fifo = spawnSync('mkfifo', [join(dir, 'pipe.ini')]);
    const rec = new Recorder(createDirMonitor(dir, testContext()));
    try {
      const snap = await rec.snapshot();
      const bin = specIn(snap, 'bin.ini');
      assert.ok(bin, 'announced');
      assert.ok(bin.config.text.includes('\u0000'));
      if (fifo.status === 0) {
        const err = await rec.error((e) => e.name === 'pipe.ini', 'the fifo error');
        assert.match(err.error.message, /not a regular file/);
        assert.equal(specIn(snap, 'pipe.ini'), undefined);
      }
    } finally {
      await rec.stop();
    }
  });
});

test('files that vanish while being looked at cause no crash and no ghost vassal', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'stable.ini'), INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 0.5 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const p = join(dir, `flash${i}.ini`);
          await writeFile(p, INI);
          if (i % 2 === 0) await sleep(i); // the writers' own pace
          await unlink(p);
        }),
      );
      const s = await rec.snapshot(rec.mark, 'a rescan after the churn');
      await rec.snapshot(rec.events.indexOf(s) + 1, 'one more rescan');
      const last = rec.since(m).filter((e) => e.type === 'snapshot').at(-1);
      assert.ok(last?.type === 'snapshot');
      assert.deepEqual(names(last), ['stable.ini']);
      for (let i = 0; i < 40; i++) {
        const evs = rec.about(`flash${i}.ini`, m);
        assert.ok(evs.every((e) => e.type !== 'error'), `no error for flash${i}.ini`);
        const ups = evs.filter((e) => e.type === 'upsert').length;
        const rms = evs.filter((e) => e.type === 'remove').length;
        assert.ok(ups === rms, `flash${i}.ini: every upsert is followed by a remove (${ups}/${rms})`);
      }
    } finally {
      await rec.stop();
    }
  });
});

test('the rescan alone catches additions, edits and removals, and never repeats a revision', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'a.ini'), INI);
    await writeFile(join(dir, 'b.ini'), INI);
    const rec = new Recorder(createDirMonitorWith(dir, testContext({ freq: 0.2 }), { watch: false }));
    try {
      const first = await rec.snapshot();
      assert.deepEqual(names(first), ['a.ini', 'b.ini']);
      await writeFile(join(dir, 'a.ini'), INI + 'processes = 9\n');
      await writeFile(join(dir, 'c.ini'), INI);
      await unlink(join(dir, 'b.ini'));
      const snap = await rec.next(
        (e): e is Extract<MonitorEvent, { type: 'snapshot' }> => e.type === 'snapshot' && names(e).join() === 'a.ini,c.ini' && specIn(e, 'a.ini')?.config.text.includes('9') === true,
        'a snapshot with the changes',
      );
      assert.notEqual(specIn(snap, 'a.ini')?.revision, specIn(first, 'a.ini')?.revision);
      const snaps = rec.events.filter((e) => e.type === 'snapshot');
      const later = await rec.snapshot(rec.events.indexOf(snaps.at(-1)!) + 1, 'one more rescan');
      assert.deepEqual(later.specs.map((s) => s.revision), snap.specs.map((s) => s.revision));
    } finally {
      await rec.stop();
    }
  });
});

test('a vanished directory is an error, not a removal of its vassals, until it comes back', async () => {
  await withDir(async (parent) => {
    const dir = join(parent, 'vassals');
    await mkdir(dir);
    await writeFile(join(dir, 'a.ini'), INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 0.3 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      await rename(dir, join(parent, 'away'));
      const err = await rec.error((e) => e.name === undefined && (e.error as { file?: string }).file === dir && /gone|cannot be scanned/.test(e.error.message), 'the lost-directory error', m);
      assert.ok(isEmperorError(err.error, ErrorCodes.MONITOR));
      // Let several rescan periods pass: there is no event to wait for, silence is the point.
      await sleep(1200);
      assert.ok(!rec.since(m).some((e) => e.type === 'snapshot' || e.type === 'remove'), 'no empty snapshot, no remove');
      assert.equal(rec.since(m).filter((e) => e.type === 'error').length, 1, 'reported once');

      await rename(join(parent, 'away'), dir);
      const back = await rec.snapshot(m, 'a snapshot once it is back');
      assert.deepEqual(names(back), ['a.ini']);
      // Watching again: a new file is seen.
      const m3 = rec.mark;
      await writeFile(join(dir, 'b.ini'), INI);
      await rec.upsert('b.ini', m3);
    } finally {
      await rec.stop();
    }
  });
});

test('uid/gid come from the target of a symlink, or from the link itself with tyrantNofollow', { skip: process.getuid?.() !== 0 ? 'needs root to chown' : false }, async () => {
  await withDir(async (dir) => {
    const target = join(dir, 'real.cfg');
    await writeFile(target, INI);
    await chown(target, 2001, 2002);
    await symlink(target, join(dir, 'link.ini'));
    await lchown(join(dir, 'link.ini'), 3001, 3002);
    const followed = new Recorder(createDirMonitor(dir, testContext()));
    const nofollow = new Recorder(createDirMonitor(dir, testContext({ tyrant: true, tyrantNofollow: true, freq: 0.3 })));
    try {
      const a = specIn(await followed.snapshot(), 'link.ini');
      const b = specIn(await nofollow.snapshot(), 'link.ini');
      assert.deepEqual([a?.uid, a?.gid, a?.config.text], [2001, 2002, INI]);
      assert.deepEqual([b?.uid, b?.gid, b?.config.text], [3001, 3002, INI]);

      // An owner change alone is an upsert with the new uid (in tyrant mode the emperor stops such
      // a vassal); a chown makes no content event, so the rescan is what sees it.
      const m = nofollow.mark;
      await lchown(join(dir, 'link.ini'), 3003, 3002);
      const up = await nofollow.upsert('link.ini', m);
      assert.deepEqual([up.spec.uid, up.spec.gid, up.spec.config.text], [3003, 3002, INI]);
    } finally {
      await Promise.all([followed.stop(), nofollow.stop()]);
    }
  });
});

test('a name longer than a vassal name may be is an error, once', async () => {
  await withDir(async (dir) => {
    const long = `${'n'.repeat(251)}.ini`; // 255 bytes: a valid file name, too long a vassal name
    await writeFile(join(dir, long), INI);
    await writeFile(join(dir, 'ok.ini'), INI);
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 0.3 })));
    try {
      const snap = await rec.snapshot();
      assert.deepEqual(names(snap), ['ok.ini']);
      const err = await rec.error((e) => e.name === long, 'the long-name error');
      assert.match(err.error.message, /longer than 254 bytes/);
      await rec.snapshot(rec.events.indexOf(snap) + 1, 'a rescan');
      assert.equal(rec.about(long).length, 1);
    } finally {
      await rec.stop();
    }
  });
});

test('a file the emperor may not read is an error, and the scan goes on', async (t) => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'ok.ini'), INI);
    await writeFile(join(dir, 'secret.ini'), INI);
    await chmod(join(dir, 'secret.ini'), 0o000);
    if (process.getuid?.() !== 0) {
      const rec = new Recorder(createDirMonitor(dir, testContext()));
      try {
        assert.deepEqual(names(await rec.snapshot()), ['ok.ini']);
        const err = await rec.error((e) => e.name === 'secret.ini', 'the EACCES error');
        assert.match(err.error.message, /permission denied/);
      } finally {
        await rec.stop();
      }
      return;
    }
    // Root reads everything: run the monitor in a child without privileges.
    await chmod(dir, 0o755);
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./unprivileged-scan.ts', import.meta.url)), dir], {
      uid: 65534,
      gid: 65534,
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, HOME: '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    if (code !== 0 && /EACCES|permission/i.test(errOut) && !out) {
      t.skip(`the unprivileged child cannot start here: ${errOut.split('\n')[0]}`);
      return;
    }
    assert.equal(code, 0, errOut);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; names?: string[]; name?: string; message?: string });
    const snap = lines.find((l) => l.type === 'snapshot');
    assert.deepEqual(snap?.names, ['ok.ini']);
    const err = lines.find((l) => l.type === 'error' && l.name === 'secret.ini');
    assert.match(err?.message ?? '', /permission denied/);
  });
});

test('ten thousand configs come as one snapshot, read in parallel, then changes are live', async (t) => {
  await withDir(async (dir) => {
    const n = 10_000;
    for (let i = 0; i < n; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => writeFile(join(dir, `app${i + j}.ini`), `[vassal]\ncommand = node app${i + j}.js\n`)));
    }
    const started = performance.now();
    const rec = new Recorder(createDirMonitor(dir, testContext()));
    try {
      const snap = await rec.next((e): e is Extract<MonitorEvent, { type: 'snapshot' }> => e.type === 'snapshot', 'the snapshot', 0, 120_000);
      t.diagnostic(`snapshot of ${snap.specs.length} files after ${Math.round(performance.now() - started)} ms`);
      assert.equal(snap.specs.length, n);
      assert.equal(rec.events[0], snap);
      assert.equal(specIn(snap, 'app4242.ini')?.config.text, '[vassal]\ncommand = node app4242.js\n');
      const m = rec.mark;
      await writeFile(join(dir, 'app4242.ini'), INI);
      await rec.upsert('app4242.ini', m);
    } finally {
      await rec.stop();
    }
  });
});

test('aborting ends the iterator and releases every watcher and timer', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'a.ini'), INI);
    const handles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap' || r === 'Timeout').length;
    const baseline = handles();
    const rec = new Recorder(createDirMonitor(dir, testContext({ freq: 0.1 })));
    await rec.snapshot();
    await waitFor(() => handles() > baseline, { what: 'the watcher to hold handles' });
    // Abort in the middle of a settle wait as well.
    await writeFile(join(dir, 'b.ini'), INI);
    await rec.stop();
    await waitFor(() => handles() <= baseline, { what: 'watchers and timers released', timeoutMs: 5000 });

    // Aborted before the first pull: ends at once.
    const ac = new AbortController();
    ac.abort();
    const got: unknown[] = [];
    for await (const ev of createDirMonitor(dir, testContext()).events(ac.signal)) got.push(ev);
    assert.deepEqual(got, []);

    // Aborted while the consumer waits for an event.
    const ac2 = new AbortController();
    const it = createDirMonitor(dir, testContext()).events(ac2.signal)[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.type, 'snapshot');
    const pending = it.next();
    ac2.abort();
    assert.equal((await pending).done, true);
    await waitFor(() => handles() <= baseline, { what: 'watchers and timers released again', timeoutMs: 5000 });
  });
});
