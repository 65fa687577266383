import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isEmperorError } from '../../src/errors.js';
import { checkMessageVassalName, StateStore } from '../../src/monitors/state-store.js';
import type { VassalSpec } from '../../src/monitors/types.js';
import { tempDir, waitFor } from '../helpers/wait.js';

const ID = 'amqp://guest:***@127.0.0.1:5672/?exchange=test';

function spec(name: string, text: string, extra: Partial<VassalSpec> = {}): VassalSpec {
  return { name, source: ID, config: { text, format: 'ini' }, revision: `r-${text.length}`, pushed: true, ...extra };
}

test('put then load gives back every vassal as it was announced', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = new StateStore(dir, ID);
  const a = spec('a.ini', '[vassal]\ncommand = a\n', { uid: 1000, gid: 1001, socket: '127.0.0.1:9000' });
  const b: VassalSpec = { name: 'b.yaml', source: ID, config: { text: 'vassal:\n  command: b\n', format: 'yaml', path: '/etc/b.yaml' }, revision: 'x', pushed: false };
  await store.put(a);
  await store.put(b);
  await store.put({ ...a, revision: 'newer' });

  const fresh = new StateStore(dir, ID);
  const { records, errors } = await fresh.load();
  assert.deepEqual(errors, []);
  const byName = new Map(records.map((r) => [r.spec.name, r]));
  assert.deepEqual(byName.get('a.ini')?.spec, { ...a, revision: 'newer' });
  assert.deepEqual(byName.get('b.yaml')?.spec, b);
  assert.ok(byName.get('a.ini')!.savedAt instanceof Date);
  assert.equal(records.length, 2);
});

test('delete forgets a vassal; forgetting an unknown one is fine', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = new StateStore(dir, ID);
  await store.put(spec('a.ini', 'x'));
  await store.put(spec('b.ini', 'y'));
  await store.delete('a.ini');
  await store.delete('never-seen.ini');
  const { records } = await store.load();
  assert.deepEqual(records.map((r) => r.spec.name), ['b.ini']);
  await assert.rejects(readFile(store.fileOf('a.ini')), { code: 'ENOENT' });
});

test('each monitor id has its own directory, named by hash and labelled', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const one = new StateStore(dir, 'zmq://tcp://127.0.0.1:5252');
  const two = new StateStore(dir, 'zmq://tcp://127.0.0.1:5253');
  await one.put(spec('a.ini', 'one'));
  await two.put(spec('a.ini', 'two'));
  assert.notEqual(one.dir, two.dir);
  assert.match(one.dir, /monitor-[0-9a-f]{24}$/);
  assert.equal(await readFile(join(one.dir, 'monitor-id'), 'utf8'), 'zmq://tcp://127.0.0.1:5252\n');
  assert.equal((await one.load()).records[0]?.spec.config.text, 'one');
  assert.equal((await two.load()).records[0]?.spec.config.text, 'two');
  assert.equal((await one.load()).records[0]?.spec.source, 'zmq://tcp://127.0.0.1:5252');
});

test('a missing state directory is an empty fleet', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  assert.deepEqual(await new StateStore(join(dir, 'not-yet'), ID).load(), { records: [], errors: [] });
});

test('corrupt records are reported with their file and skipped; the rest is restored', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = new StateStore(dir, ID);
  await store.put(spec('good.ini', 'fine'));
  await store.put(spec('torn.ini', 'x'.repeat(100)));
  await store.put(spec('shape.ini', 'y'));
  await store.put(spec('moved.ini', 'z'));
  const torn = store.fileOf('torn.ini');
  await writeFile(torn, (await readFile(torn, 'utf8')).slice(0, 40));
  await writeFile(store.fileOf('shape.ini'), JSON.stringify({ version: 1, savedAt: new Date().toISOString(), spec: { name: 'shape.ini', config: { text: 1 } } }));
  // A record under another vassal's file name is as good as corrupt.
  await writeFile(store.fileOf('moved.ini'), await readFile(store.fileOf('good.ini')));
  await writeFile(join(store.dir, 'garbage.json'), '\u0000\u0001 not json');
  // A temp file left by a write that was killed before its rename.
  const leftover = `${store.fileOf('good.ini')}.123.abc.tmp`;
  await writeFile(leftover, '{"half":');

  const { records, errors } = await store.load();
  assert.deepEqual(records.map((r) => r.spec.name), ['good.ini']);
  assert.equal(errors.length, 4);
  for (const e of errors) {
    assert.ok(isEmperorError(e, 'EMP_ERR_MONITOR'));
    assert.match(e.message, /cannot be restored/);
  }
  const files = errors.map((e) => e.file).sort();
  assert.deepEqual(files, [torn, store.fileOf('shape.ini'), store.fileOf('moved.ini'), join(store.dir, 'garbage.json')].sort());
  assert.match(errors.find((e) => e.file === store.fileOf('shape.ini'))!.message, /spec\.revision|spec\.config\.text/);
  assert.ok(!(await readdir(store.dir)).some((f) => f.endsWith('.tmp')), 'leftover temp file removed');

  const events = await store.restore();
  assert.equal(events.filter((e) => e.type === 'error').length, 4);
  assert.deepEqual(events.filter((e) => e.type === 'upsert').map((e) => e.type === 'upsert' && e.spec.name), ['good.ini']);
});

test('names that could leave the directory are refused', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const store = new StateStore(dir, ID);
  for (const bad of ['a/b.ini', '../x.ini', '..', '', '.ini', 'a\nb.ini']) {
    await assert.rejects(store.put(spec(bad, 'x')), (err) => isEmperorError(err, 'EMP_ERR_MONITOR_INPUT'), bad);
  }
  assert.deepEqual((await store.load()).records, []);
});

test('apply never rejects: a failed write comes back as an error naming the vassal', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const blocker = join(dir, 'a-file');
  await writeFile(blocker, '');
  const store = new StateStore(blocker, ID);
  const err = await store.apply({ type: 'upsert', spec: spec('a.ini', 'x') });
  assert.ok(isEmperorError(err, 'EMP_ERR_MONITOR'));
  assert.match(err.message, /cannot save vassal "a\.ini"/);
  assert.equal(await store.apply({ type: 'remove', name: 'a.ini' }), undefined);
  assert.equal(await store.apply({ type: 'error', error: new Error('x') }), undefined);
});

test('checkMessageVassalName accepts config names and refuses the rest', () => {
  for (const good of ['a.ini', 'a.yml', 'a.yaml', 'a.json', 'a.js', 'a.xml', 'my app.ini']) assert.doesNotThrow(() => checkMessageVassalName(good, []), good);
  assert.doesNotThrow(() => checkMessageVassalName('a.conf', ['.conf']));
  for (const bad of ['a.txt', 'a', 'a/b.ini', '../a.ini', 'a..ini', '.ini', 'x'.repeat(300) + '.ini', 'a\u0000.ini']) {
    assert.throws(() => checkMessageVassalName(bad, []), (err) => isEmperorError(err, 'EMP_ERR_MONITOR_INPUT'), bad);
  }
  assert.throws(() => checkMessageVassalName('a.txt', ['.conf']), /expected one of .*\.conf/);
});

test('a writer killed with SIGKILL mid-write never leaves a torn record', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const storeModule = resolve(fileURLToPath(import.meta.url), '../../../src/monitors/state-store.ts');
  // Records of very different sizes, each carrying its own length, so a torn one cannot pass.
  const writer = `
    import { StateStore } from ${JSON.stringify(storeModule)};
    const store = new StateStore(${JSON.stringify(dir)}, ${JSON.stringify(ID)});
    for (let i = 0; ; i++) {
      const size = (i * 7919) % 300000;
      const text = 'len=' + size + ';' + 'x'.repeat(size);
      await store.put({ name: 'v' + (i % 8) + '.ini', source: 'x', config: { text, format: 'ini' }, revision: String(i) });
      if (i === 16) process.stdout.write('ready\\n');
    }
  `;
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_code, signal) => res(signal)));
    await waitFor(() => out.includes('ready'), { what: 'the writer to have written every record', timeoutMs: 30_000 });
    // Land the kill at a different point of the write cycle each round.
    await new Promise((r) => setTimeout(r, 37 * round));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    const { records, errors } = await new StateStore(dir, ID).load();
    assert.deepEqual(errors.map((e) => e.message), []);
    assert.equal(records.length, 8);
    for (const r of records) {
      const m = /^len=(\d+);/.exec(r.spec.config.text);
      assert.ok(m, `record ${r.spec.name} starts with its length`);
      assert.equal(r.spec.config.text.length, m[0].length + Number(m[1]), `record ${r.spec.name} is whole`);
    }
  }
});
