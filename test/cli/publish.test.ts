/** `emperor publish` and `emperor pg-setup --print`, the command-line side of the message and database sources. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, EmperorProcess, FIXTURES, ROOT } from '../helpers/emperor-process.js';
import { freePort, tempDir } from '../helpers/wait.js';

function emperor(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('emperor publish zmq://… touch NAME --file F starts a vassal; destroy stops it', async () => {
  const { dir, cleanup } = await tempDir();
  const endpoint = `zmq://tcp://127.0.0.1:${await freePort()}`;
  const emp = new EmperorProcess([endpoint, '--no-control', '--state-dir', join(dir, 'state')]);
  try {
    await emp.event(undefined, 'start');
    const file = join(dir, 'cli.ini');
    await writeFile(file, `[vassal]\ncommand = ${process.execPath} ${join(FIXTURES, 'ticker.mjs')}\nready = alive:10\n`);
    const sent = emperor('publish', endpoint, 'touch', 'cli.ini', '--file', file);
    assert.equal(sent.code, 0, sent.err);
    assert.match(sent.out, /sent touch cli\.ini \(\d+ bytes of config\)/);
    await emp.event('cli.ini', 'ready');
    const gone = emp.nextEvent('cli.ini', 'stopped');
    assert.equal(emperor('publish', endpoint, 'destroy', 'cli.ini').code, 0);
    await gone;
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('emperor publish refuses a malformed call with a usage error (exit 2)', () => {
  const r = emperor('publish', 'zmq://tcp://127.0.0.1:1', 'touch');
  assert.equal(r.code, 2);
  assert.match(r.err, /zmq takes COMMAND NAME/);
  const r2 = emperor('publish', 'ftp://x', 'a');
  assert.equal(r2.code, 2);
  assert.match(r2.err, /amqp:\/\/… or zmq:\/\/…/);
});

test('emperor pg-setup --print shows the trigger SQL for the table and channel', () => {
  const r = emperor('pg-setup', 'host=127.0.0.1 dbname=x', '--table', 'fleet', '--channel', 'deploys', '--print');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /pg_notify/);
  assert.match(r.out, /fleet/);
  assert.match(r.out, /deploys/);
});
