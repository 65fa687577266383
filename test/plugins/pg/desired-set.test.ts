import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredSet, type SourceRow } from '../../../plugins/pg/desired-set.js';

const rules = { source: 'pg://test', tyrant: false, extraExtensions: [] as string[], maxConfigBytes: 1000, noun: 'row' };

function rows(...list: Array<Partial<SourceRow>>): SourceRow[] {
  return list.map((r, i) => ({ position: i + 1, name: null, config: null, ts: null, ...r }));
}

test('the extension chooses the format; under an extra extension the text decides', () => {
  const set = new DesiredSet({ ...rules, extraExtensions: ['.conf'] });
  const { specs, errors } = set.apply(rows(
    { name: 'a.ini', config: 'x', ts: 1 }, { name: 'b.yml', config: 'x', ts: 1 }, { name: 'c.yaml', config: 'x', ts: 1 },
    { name: 'd.json', config: 'x', ts: 1 }, { name: 'e.js', config: 'x', ts: 1 }, { name: 'f.xml', config: 'x', ts: 1 },
    { name: 'g.conf', config: '<vassal/>', ts: 1 }, { name: 'h.conf', config: '[vassal]', ts: 1 },
    { name: 'i.txt', config: 'x', ts: 1 }, { name: '.ini', config: 'x', ts: 1 },
  ));
  assert.deepEqual(specs.map((s) => [s.name, s.config.format]), [
    ['a.ini', 'ini'], ['b.yml', 'yaml'], ['c.yaml', 'yaml'], ['d.json', 'json'], ['e.js', 'json'], ['f.xml', 'xml'],
    ['g.conf', 'xml'], ['h.conf', 'ini'],
  ]);
  assert.deepEqual(errors.map((e) => e.name), ['i.txt', '.ini']);
  assert.match(errors[0]?.error.message ?? '', /no config extension \(expected \.ini \.yml \.yaml \.json \.js \.xml \.conf\)/);
});

test('a spec carries name, source, config text+format, revision, uid/gid, socket, pushed', () => {
  const set = new DesiredSet(rules);
  const { specs, errors } = set.apply(rows({ name: 'a.yml', config: 'vassal: {}', ts: '1700000000.5', uid: 1000, gid: '1000', socket: '127.0.0.1:9000' }));
  assert.deepEqual(errors, []);
  assert.deepEqual(specs, [{
    name: 'a.yml', source: 'pg://test', config: { text: 'vassal: {}', format: 'yaml' }, revision: '1700000000.5',
    pushed: true, uid: 1000, gid: 1000, socket: '127.0.0.1:9000',
  }]);
  assert.equal(set.apply(rows({ name: 'b.ini', config: '', ts: new Date(1_700_000_000_250), socket: '' })).specs[0]?.revision, '1700000000.25');
  assert.equal(set.apply(rows({ name: 'b.ini', config: '', ts: 5n, socket: null })).specs[0]?.socket, undefined);
});

test('only a greater ts changes a vassal; a smaller or equal one keeps what was announced', () => {
  const set = new DesiredSet(rules);
  assert.equal(set.apply(rows({ name: 'a.ini', config: 'v1', ts: 100 })).specs[0]?.revision, '100');
  let a = set.apply(rows({ name: 'a.ini', config: 'v2', ts: 200 })).specs[0];
  assert.deepEqual([a?.revision, a?.config.text], ['200', 'v2']);
  a = set.apply(rows({ name: 'a.ini', config: 'v3', ts: 150 })).specs[0];
  assert.deepEqual([a?.revision, a?.config.text], ['200', 'v2']);
  a = set.apply(rows({ name: 'a.ini', config: 'v4', ts: 200 })).specs[0];
  assert.deepEqual([a?.revision, a?.config.text], ['200', 'v2']);
  // Gone, then back with a smaller ts: a new vassal.
  assert.deepEqual(set.apply([]).specs, []);
  a = set.apply(rows({ name: 'a.ini', config: 'v5', ts: 50 })).specs[0];
  assert.deepEqual([a?.revision, a?.config.text], ['50', 'v5']);
});

test('bad rows are reported by name and skipped; the rest is unaffected', () => {
  const set = new DesiredSet({ ...rules, maxConfigBytes: 10 });
  const { specs, errors } = set.apply(rows(
    { name: 'good.ini', config: 'x', ts: 1 },
    { name: null, config: 'x', ts: 1 },
    { name: 42, config: 'x', ts: 1 },
    { name: 'noconfig.ini', config: null, ts: 1 },
    { name: 'nots.ini', config: 'x', ts: null },
    { name: 'textts.ini', config: 'x', ts: 'yesterday' },
    { name: 'noext', config: 'x', ts: 1 },
    { name: 'a/b.ini', config: 'x', ts: 1 },
    { name: '..ini', config: 'x', ts: 1 },
    { name: 'good.ini', config: 'y', ts: 2 },
    { name: 'big.ini', config: 'x'.repeat(11), ts: 1 },
    { name: 'uid.ini', config: 'x', ts: 1, uid: -1 },
    { name: 'sock.ini', config: 'x', ts: 1, socket: 7 },
  ));
  assert.deepEqual(specs.map((s) => [s.name, s.config.text]), [['good.ini', 'x']]);
  const got = errors.map((e) => [e.name, e.error.message.replace(/^.*?: /, '')]);
  assert.deepEqual(got, [
    [undefined, 'name is NULL; skipped'],
    [undefined, 'name must be text, got 42; skipped'],
    ['noconfig.ini', 'config is NULL; skipped'],
    ['nots.ini', 'ts is NULL; skipped'],
    ['textts.ini', 'ts must be a timestamp or a number of seconds since the epoch, got "yesterday"; skipped'],
    ['noext', 'the name has no config extension (expected .ini .yml .yaml .json .js .xml); skipped'],
    ['a/b.ini', 'the name contains a path separator; skipped'],
    ['..ini', 'the name contains ".."; skipped'],
    ['good.ini', 'duplicate name "good.ini": the first row with this name wins; skipped'],
    ['big.ini', 'config is 11 bytes, above the limit of 10; skipped'],
    ['uid.ini', 'uid must be a whole number from 0 to 4294967294, got -1; skipped'],
    ['sock.ini', 'socket must be text, got 7; skipped'],
  ]);
  assert.ok(errors.every((e) => e.error.code === 'EMP_ERR_MONITOR_INPUT'));
  assert.match(errors[0]?.error.message ?? '', /^row 2: name is NULL/);
});

test('a bad row is reported once, and again when it changes', () => {
  const set = new DesiredSet(rules);
  const bad = { name: 'bad.ini', config: 'x', ts: 'soon' };
  assert.equal(set.apply(rows(bad)).errors.length, 1);
  assert.equal(set.apply(rows(bad)).errors.length, 0);
  assert.equal(set.apply(rows({ ...bad, config: 'y' })).errors.length, 1);
  assert.equal(set.apply(rows({ ...bad, config: 'y' })).errors.length, 0);
  // Fixed, then broken the same way again: reported again.
  set.apply(rows({ ...bad, ts: 1 }));
  assert.equal(set.apply(rows({ ...bad, config: 'y' })).errors.length, 1);
});

test('an announced vassal whose row turns bad keeps running as announced', () => {
  const set = new DesiredSet(rules);
  set.apply(rows({ name: 'a.ini', config: 'v1', ts: 100 }));
  const { specs, errors } = set.apply(rows({ name: 'a.ini', config: null, ts: 200 }));
  assert.deepEqual(specs.map((s) => [s.name, s.revision, s.config.text]), [['a.ini', '100', 'v1']]);
  assert.equal(errors[0]?.name, 'a.ini');
  assert.equal(set.apply(rows({ name: 'a.ini', config: 'v2', ts: 200 })).specs[0]?.revision, '200');
});

test('tyrant mode: uid and gid are required and may not be 0', () => {
  const set = new DesiredSet({ ...rules, tyrant: true });
  const { specs, errors } = set.apply(rows(
    { name: 'ok.ini', config: 'x', ts: 1, uid: 1000, gid: 1000 },
    { name: 'none.ini', config: 'x', ts: 1 },
    { name: 'half.ini', config: 'x', ts: 1, uid: 1000 },
    { name: 'root.ini', config: 'x', ts: 1, uid: 0, gid: 1000 },
  ));
  assert.deepEqual(specs.map((s) => [s.name, s.uid, s.gid]), [['ok.ini', 1000, 1000]]);
  assert.deepEqual(errors.map((e) => e.name), ['none.ini', 'half.ini', 'root.ini']);
  assert.match(errors[0]?.error.message ?? '', /missing uid and gid \(required in tyrant mode\)/);
  assert.match(errors[2]?.error.message ?? '', /root is refused in tyrant mode/);
});
