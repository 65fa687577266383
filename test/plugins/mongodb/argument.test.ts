import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEmperorError } from '../../../src/errors.js';
import { parseMongoArgument } from '../../../plugins/mongodb/argument.js';
import { parseFilter } from '../../../plugins/mongodb/filter.js';

test("uWSGI's form: address, database.collection, relaxed-JSON filter", () => {
  const t = parseMongoArgument(`mongodb://10.0.0.5:27018,emperor.vassals,{enabled:1, tag: 'web'}`, 'n');
  assert.equal(t.uri, 'mongodb://10.0.0.5:27018/?directConnection=true');
  assert.equal(t.database, 'emperor');
  assert.equal(t.collection, 'vassals');
  assert.deepEqual(t.filter, { enabled: 1, tag: 'web' });
  assert.equal(t.id, `mongodb://10.0.0.5:27018,emperor.vassals,{enabled:1, tag: 'web'}`);
  assert.equal(t.maxTimeMS, 10_000);
});

test("uWSGI's defaults: 127.0.0.1:27017, uwsgi.emperor.vassals, every document", () => {
  for (const arg of ['mongodb://', 'mongodb://,', 'mongodb://,,']) {
    const t = parseMongoArgument(arg, 'n');
    assert.deepEqual([t.uri, t.database, t.collection, t.filter], ['mongodb://127.0.0.1:27017/?directConnection=true', 'uwsgi', 'emperor.vassals', {}], arg);
  }
  const ns = parseMongoArgument('mongodb://h,fleet.emperor.vassals', 'n');
  assert.deepEqual([ns.database, ns.collection], ['fleet', 'emperor.vassals']);
});

test('connection-string form: collection, filter and maxTimeMS are taken out; the rest goes to the driver', () => {
  const t = parseMongoArgument('mongodb://me:p%40ss@h1:27017,h2:27017/fleet?replicaSet=rs0&tls=true&collection=vassals&filter=%7Benabled%3A1%7D&maxTimeMS=2500&authSource=admin', 'n');
  assert.equal(t.uri, 'mongodb://me:p%40ss@h1:27017,h2:27017/fleet?replicaSet=rs0&tls=true&authSource=admin');
  assert.deepEqual([t.database, t.collection, t.filter, t.maxTimeMS], ['fleet', 'vassals', { enabled: 1 }, 2500]);
  assert.equal(t.id, 'mongodb://me:***@h1:27017,h2:27017/fleet?replicaSet=rs0&tls=true&collection=vassals&filter=%7Benabled%3A1%7D&maxTimeMS=2500&authSource=admin');
  assert.deepEqual(t.options, { serverSelectionTimeoutMS: 5000, appName: 'emperor' });
  const raw = parseMongoArgument(`mongodb://h/db?filter={enabled:1,node:'%h',pct:'100%25'}`, 'web7');
  assert.deepEqual([raw.database, raw.collection, raw.filter], ['db', 'emperor.vassals', { enabled: 1, node: 'web7', pct: '100%' }]);
  const own = parseMongoArgument('mongodb://h/db?serverSelectionTimeoutMS=900&appName=mine', 'n');
  assert.deepEqual(own.options, {});
});

test('mongodb+srv and hosts without a database read as connection strings', () => {
  const srv = parseMongoArgument('mongodb+srv://u:secret@cluster0.example.net/emperor?collection=v', 'n');
  assert.equal(srv.id, 'mongodb+srv://u:***@cluster0.example.net/emperor?collection=v');
  assert.equal(srv.uri, 'mongodb+srv://u:secret@cluster0.example.net/emperor');
  // A host list: the part after the first comma has a port, so it is no namespace.
  const hosts = parseMongoArgument('mongodb://h1:27017,h2:27017', 'n');
  assert.equal(hosts.uri, 'mongodb://h1:27017,h2:27017');
  assert.equal(hosts.database, 'uwsgi');
  const masked = parseMongoArgument('mongodb://h/db?tls=true&tlsCertificateKeyFilePassword=pw', 'n');
  assert.equal(masked.id, 'mongodb://h/db?tls=true&tlsCertificateKeyFilePassword=***');
});

test('bad arguments are refused, naming what is wrong', () => {
  for (const [arg, re] of [
    ['mongodb://h/db?filter={enabled:', /the filter is not valid relaxed JSON/],
    ['mongodb://h,db.c,{enabled', /the filter is not valid relaxed JSON/],
    ['mongodb://h/db?filter=[1,2]', /the filter must be an object/],
    ['mongodb://h/db?maxTimeMS=soon', /maxTimeMS must be whole milliseconds/],
    ['mongodb://h/db?collection=', /collection= is empty/],
    ['mongodb://h/db?filter=%FF', /bad percent-encoding in option "filter"/],
    ['mongodb://h/db?replicaSet=a&w=banana&wtimeoutMS=x', /mongodb:\/\//],
    ['pg://x', /expected mongodb:\/\//],
  ] as const) {
    assert.throws(() => parseMongoArgument(arg, 'n'), (err: unknown) => isEmperorError(err, 'EMP_ERR_USAGE') && re.test(err.message), arg);
  }
});

test('filter: no code is run, %h in strings is the node name, Extended JSON is understood', () => {
  assert.deepEqual(parseFilter(`{node: '%h', re: {$regex: '^%h-'}, list: ['%h', 2], lit: '100%%h'}`, 'web1'), {
    node: 'web1', re: parseFilter(`{x: {$regex: '^web1-'}}`, 'x').x, list: ['web1', 2], lit: '100%h',
  });
  const withDate = parseFilter(`{ts: {$gt: {$date: '2024-01-01T00:00:00Z'}}}`, 'n') as { ts: { $gt: Date } };
  assert.ok(withDate.ts.$gt instanceof Date);
  assert.throws(() => parseFilter('{a: (function(){ return 1 })()}', 'n'), /not valid relaxed JSON/);
  assert.deepEqual(parseFilter('  ', 'n'), {});
});
