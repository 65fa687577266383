import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isEmperorError, ErrorCodes } from '../../src/errors.js';
import { createGlobMonitor, createGlobMonitorWith } from '../../src/monitors/glob.js';
import { parseGlob } from '../../src/monitors/glob-pattern.js';
import type { MonitorEvent } from '../../src/monitors/types.js';
import { withTempDir } from '../helpers/wait.js';
import { Recorder, names, specIn, testContext } from './harness.js';

const INI = '[vassal]\ncommand = node app.js\n';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('emperor-globmon-', fn);

async function put(path: string, text = INI): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

test('the factory refuses an empty or negated pattern and a missing base with USAGE', async () => {
  await withDir(async (dir) => {
    for (const arg of ['glob://', '', `!${dir}/*.ini`, `${dir}/missing/*/app.ini`, `glob://${dir}/missing/*.ini`]) {
      assert.throws(
        () => createGlobMonitor(arg, testContext()),
        (err: unknown) => isEmperorError(err, ErrorCodes.USAGE) && err.message.includes(arg === '' ? '""' : arg),
        `argument ${JSON.stringify(arg)}`,
      );
    }
    assert.equal(createGlobMonitor(`glob://${dir}/*.ini`, testContext()).id, `glob://${dir}/*.ini`);
  });
});

test('a pattern is taken apart into absolute form, base, depth and directory filter', () => {
  const rel = parseGlob('apps/*/conf/app.ini', '/srv');
  assert.equal(rel.pattern, '/srv/apps/*/conf/app.ini');
  assert.equal(rel.base, '/srv/apps');
  assert.equal(rel.depth, 2);
  assert.equal(rel.skipDir('/srv/apps/a'), false);
  assert.equal(rel.skipDir('/srv/apps/a/conf'), false);
  assert.equal(rel.skipDir('/srv/apps/a/other'), true);
  assert.equal(rel.skipDir('/srv/apps/a/conf/deeper'), true);
  assert.equal(rel.skipDir('/srv/apps/.hidden'), true);
  assert.ok(rel.matches('/srv/apps/a/conf/app.ini'));
  assert.ok(!rel.matches('/srv/apps/a/b/conf/app.ini'));

  const star = parseGlob('/srv/**/app.ini', '/');
  assert.equal(star.depth, undefined);
  assert.equal(star.skipDir('/srv/a/b/c'), false);

  const brace = parseGlob('/srv/{a,b/c}/app.ini', '/');
  assert.equal(brace.depth, undefined, 'a brace spanning levels disables per-level filtering');

  const plain = parseGlob('/srv/app.ini', '/');
  assert.equal(plain.base, '/srv');
  assert.ok(plain.matches('/srv/app.ini'));
});

test('a relative pattern resolves against the cwd at creation', async () => {
  await withDir(async (dir) => {
    await put(join(dir, 'apps', 'one', 'app.ini'));
    const cwd = process.cwd();
    process.chdir(dir);
    let monitor;
    try {
      monitor = createGlobMonitor('glob://apps/*/app.ini', testContext());
    } finally {
      process.chdir(cwd);
    }
    const rec = new Recorder(monitor);
    try {
      assert.deepEqual(names(await rec.snapshot()), [join(dir, 'apps', 'one', 'app.ini')]);
    } finally {
      await rec.stop();
    }
  });
});

test('a pattern across subdirectories: vassals named by full path, new subdirectories picked up live', async () => {
  await withDir(async (dir) => {
    const a = join(dir, 'a', 'conf', 'app.ini');
    const b = join(dir, 'b', 'conf', 'app.ini');
    await put(a);
    await put(b, 'vassal:\n  command: b\n');
    await put(join(dir, 'c', 'other', 'app.ini'));
    await put(join(dir, 'a', 'conf', 'x.ini'));
    await put(join(dir, 'a', 'conf', '.app.ini.swp'));
    const id = `glob://${dir}/*/conf/app.ini`;
    const rec = new Recorder(createGlobMonitor(id, testContext()));
    try {
      const snap = await rec.snapshot();
      assert.deepEqual(names(snap), [a, b].sort());
      assert.equal(specIn(snap, a)?.config.path, a);
      assert.equal(specIn(snap, a)?.config.format, 'ini');
      assert.equal(specIn(snap, a)?.source, id);

      // A whole new app directory, made after start (the rescan is 30 s away: this is the watcher).
      await rec.watching();
      let m = rec.mark;
      const d = join(dir, 'd', 'conf', 'app.ini');
      await put(d);
      const up = await rec.upsert(d, m);
      assert.equal(up.spec.config.text, INI);

      m = rec.mark;
      await writeFile(b, 'vassal:\n  command: b2\n');
      await rec.upsert(b, m, (s) => s.config.text.includes('b2'));

      // Removing an app's directory removes its vassal.
      m = rec.mark;
      await rm(join(dir, 'a'), { recursive: true });
      await rec.removal(a, m);
      assert.ok(!rec.since(m).some((e) => e.type === 'upsert'));
    } finally {
      await rec.stop();
    }
  });
});

test("uWSGI's /opt/apps/app*/app*.* example", async () => {
  await withDir(async (dir) => {
    await put(join(dir, 'app1', 'app1.ini'));
    await put(join(dir, 'app2', 'app2.yaml'), 'vassal:\n  command: x\n');
    await put(join(dir, 'app2', 'app2.txt'));
    await put(join(dir, 'app2', 'other.ini'));
    await put(join(dir, 'other', 'app3.ini'));
    const rec = new Recorder(createGlobMonitor(`${dir}/app*/app*.*`, testContext()));
    try {
      assert.deepEqual(names(await rec.snapshot()), [join(dir, 'app1', 'app1.ini'), join(dir, 'app2', 'app2.yaml')]);
      await rec.watching();
      const m = rec.mark;
      const p = join(dir, 'app3', 'app3.json');
      await put(p, '{"vassal":{"command":"x"}}');
      assert.equal((await rec.upsert(p, m)).spec.config.format, 'json');
    } finally {
      await rec.stop();
    }
  });
});

test('a ** pattern matches at any depth, live', async () => {
  await withDir(async (dir) => {
    await put(join(dir, 'x', 'y', 'z', 'deep.ini'));
    await put(join(dir, 'top.ini'));
    const rec = new Recorder(createGlobMonitor(`glob://${dir}/**/*.ini`, testContext()));
    try {
      assert.deepEqual(names(await rec.snapshot()), [join(dir, 'top.ini'), join(dir, 'x', 'y', 'z', 'deep.ini')].sort());
      await rec.watching();
      const m = rec.mark;
      const p = join(dir, 'n1', 'n2', 'n3', 'n4', 'new.ini');
      await put(p);
      await rec.upsert(p, m);
    } finally {
      await rec.stop();
    }
  });
});

test('symlinked app directories are followed, but ** does not loop through a link cycle', async () => {
  await withDir(async (dir) => {
    const base = join(dir, 'apps');
    await put(join(dir, 'releases', 'r1', 'app.ini'));
    await mkdir(base);
    await symlink(join(dir, 'releases', 'r1'), join(base, 'shop'));
    await put(join(base, 'blog', 'app.ini'));
    const bounded = new Recorder(createGlobMonitor(`glob://${base}/*/app.ini`, testContext()));
    try {
      assert.deepEqual(names(await bounded.snapshot()), [join(base, 'blog', 'app.ini'), join(base, 'shop', 'app.ini')]);
    } finally {
      await bounded.stop();
    }

    await symlink('..', join(base, 'blog', 'up'));
    const star = new Recorder(createGlobMonitor(`glob://${base}/**/*.ini`, testContext()));
    try {
      assert.deepEqual(names(await star.snapshot()), [join(base, 'blog', 'app.ini')]);
      await star.watching();
      const m = star.mark;
      await put(join(base, 'blog', 'extra.ini'));
      await star.upsert(join(base, 'blog', 'extra.ini'), m);
      assert.ok(!star.events.some((e) => e.type === 'upsert' && e.spec.name.includes('/up/')), 'nothing through the loop');
    } finally {
      await star.stop();
    }
  });
});

test('an atomic save inside a glob directory is one upsert, no remove', async () => {
  await withDir(async (dir) => {
    const p = join(dir, 'one', 'app.ini');
    await put(p);
    const rec = new Recorder(createGlobMonitor(`glob://${dir}/*/app.ini`, testContext({ freq: 1 })));
    try {
      await rec.snapshot();
      const m = rec.mark;
      await writeFile(join(dir, 'one', '.app.ini.tmp'), INI + 'processes = 2\n');
      await rename(join(dir, 'one', '.app.ini.tmp'), p);
      await rec.upsert(p, m, (s) => s.config.text.endsWith('processes = 2\n'));
      await rec.snapshot(rec.mark, 'the next rescan');
      assert.deepEqual(rec.about(p, m).map((e) => e.type), ['upsert']);
    } finally {
      await rec.stop();
    }
  });
});

test('a directory matching the pattern is reported once, not at each rescan', async () => {
  await withDir(async (dir) => {
    await mkdir(join(dir, 'a', 'x.ini'), { recursive: true });
    await put(join(dir, 'a', 'ok.ini'));
    const rec = new Recorder(createGlobMonitor(`glob://${dir}/*/*.ini`, testContext({ freq: 0.3 })));
    try {
      const s1 = await rec.snapshot();
      assert.deepEqual(names(s1), [join(dir, 'a', 'ok.ini')]);
      const s2 = await rec.snapshot(rec.events.indexOf(s1) + 1, 'a rescan');
      await rec.snapshot(rec.events.indexOf(s2) + 1, 'another rescan');
      const errs = rec.about(join(dir, 'a', 'x.ini'));
      assert.equal(errs.length, 1);
      assert.ok(errs[0]?.type === 'error' && /directory/.test(errs[0].error.message));
    } finally {
      await rec.stop();
    }
  });
});

test('the rescan alone keeps the snapshot right, across subdirectories', async () => {
  await withDir(async (dir) => {
    const a = join(dir, 'a', 'app.ini');
    await put(a);
    const rec = new Recorder(createGlobMonitorWith(`glob://${dir}/*/app.ini`, testContext({ freq: 0.2 }), { watch: false }));
    try {
      const first = await rec.snapshot();
      assert.deepEqual(names(first), [a]);
      const b = join(dir, 'b', 'app.ini');
      await put(b);
      await writeFile(a, INI + 'processes = 5\n');
      const snap = await rec.next(
        (e): e is Extract<MonitorEvent, { type: 'snapshot' }> => e.type === 'snapshot' && e.specs.length === 2 && specIn(e, a)?.config.text.includes('5') === true,
        'a snapshot with b and the new a',
      );
      assert.deepEqual(names(snap), [a, b]);
      await rm(join(dir, 'a'), { recursive: true });
      await rec.next((e): e is Extract<MonitorEvent, { type: 'snapshot' }> => e.type === 'snapshot' && names(e).join() === b, 'a snapshot without a');
    } finally {
      await rec.stop();
    }
  });
});

test('aborting ends the iterator', async () => {
  await withDir(async (dir) => {
    await put(join(dir, 'a', 'app.ini'));
    const rec = new Recorder(createGlobMonitor(`glob://${dir}/*/app.ini`, testContext({ freq: 0.1 })));
    await rec.snapshot();
    await rec.stop();
    const ac = new AbortController();
    const it = createGlobMonitor(`glob://${dir}/*/app.ini`, testContext()).events(ac.signal)[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value?.type, 'snapshot');
    const pending = it.next();
    ac.abort();
    assert.equal((await pending).done, true);
  });
});
