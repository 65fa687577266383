/**
 * Vassals fed by a database row or a message, end to end through the real emperor: the sources'
 * own behaviour is tested with their plugins; here the point is that what they announce runs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { publishAmqp } from '../../plugins/amqp/publish.js';
import { publishZmq } from '../../plugins/zmq/publish.js';
import { testDatabase } from '../helpers/pg-database.js';
import { EmperorProcess, FIXTURES } from '../helpers/emperor-process.js';
import { alive } from '../helpers/procs.js';
import { freePort, inCI, tempDir, waitFor } from '../helpers/wait.js';

const ticker = join(FIXTURES, 'ticker.mjs');
const config = (extra = ''): string => `[vassal]\ncommand = ${process.execPath} ${ticker}\nready = alive:10\n${extra}`;

test('zmq: touch starts a vassal, a re-touch reloads it, destroy stops it; it survives an emperor restart', async () => {
  const { dir, cleanup } = await tempDir();
  const endpoint = `zmq://tcp://127.0.0.1:${await freePort()}`;
  const args = [endpoint, '--state-dir', join(dir, 'state')];
  let emp = new EmperorProcess(args);
  try {
    await emp.event(undefined, 'start');
    await publishZmq(endpoint, ['touch', 'z.ini', config()]);
    const first = await emp.event('z.ini', 'ready');
    const again = emp.nextEvent('z.ini', 'ready');
    await publishZmq(endpoint, ['touch', 'z.ini', config('env = V=2')]);
    assert.notDeepEqual((await again).pids, first.pids);
    // The fleet is durable: a restarted emperor brings the vassal back from its state dir.
    await emp.stop();
    emp = new EmperorProcess(args);
    const restored = await emp.event('z.ini', 'ready');
    const stopped = emp.nextEvent('z.ini', 'stopped');
    await publishZmq(endpoint, ['destroy', 'z.ini']);
    await stopped;
    await waitFor(async () => !(await alive((restored.pids as number[])[0]!)), { what: 'worker gone after destroy' });
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('amqp: a message with a routing key starts the vassal, an empty body removes it', async (t) => {
  const { canConnect } = await import('../helpers/wait.js');
  if (!(await canConnect(5672))) {
    if (inCI) assert.fail('RabbitMQ must be running in CI');
    t.skip('RabbitMQ is not running on 127.0.0.1:5672');
    return;
  }
  const { dir, cleanup } = await tempDir();
  const url = `amqp://guest:guest@127.0.0.1:5672/?exchange=emperor.e2e.${process.pid}.${Date.now()}`;
  const emp = new EmperorProcess([url, '--state-dir', join(dir, 'state')]);
  try {
    await emp.event(undefined, 'start');
    // Messages published before the emperor's queue is bound are not its to see.
    await emp.waitFor((r) => r.msg === 'amqp subscribed', 'the amqp monitor subscribed');
    await publishAmqp(url, { name: 'a.ini', body: config() });
    const r = await emp.event('a.ini', 'ready');
    const stopped = emp.nextEvent('a.ini', 'stopped');
    await publishAmqp(url, { name: 'a.ini', body: '' });
    await stopped;
    assert.equal(await alive((r.pids as number[])[0]!), false);
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('pg: a row starts its vassal, a greater ts reloads it, deleting the row stops it', async (t) => {
  const tdb = await testDatabase('emperor_e2e');
  if ('unavailable' in tdb) {
    t.skip(tdb.unavailable);
    return;
  }
  const { client, name: db } = tdb;
  const emp = new EmperorProcess([`pg://host=127.0.0.1 port=5432 user=postgres dbname=${db}`, '--freq', '30']);
  try {
    await client.query('CREATE TABLE vassals (name text PRIMARY KEY, config text NOT NULL, ts timestamptz NOT NULL DEFAULT now())');
    const { runPgSetup } = await import('../../plugins/pg/setup.js');
    await runPgSetup(`host=127.0.0.1 port=5432 user=postgres dbname=${db}`);
    await emp.event(undefined, 'start');
    await client.query('INSERT INTO vassals (name, config) VALUES ($1, $2)', ['row.ini', config()]);
    const first = await emp.event('row.ini', 'ready');
    const again = emp.nextEvent('row.ini', 'ready');
    await client.query(`UPDATE vassals SET config = $1, ts = now() + interval '1 second' WHERE name = 'row.ini'`, [config('env = V=2')]);
    assert.notDeepEqual((await again).pids, first.pids);
    const stopped = emp.nextEvent('row.ini', 'stopped');
    await client.query(`DELETE FROM vassals WHERE name = 'row.ini'`);
    await stopped;
  } finally {
    await emp.stop();
    await tdb.drop();
  }
});
