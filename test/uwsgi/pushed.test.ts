/**
 * uWSGI vassals whose config comes from a message (the zmq monitor, with a real zeromq socket):
 * the config reaches uWSGI over the config pipe as emperor://NAME, again at each reload; one too
 * large for the pipe's 16-bit size (100 KiB) reaches it as a private file.
 */
import assert from 'node:assert/strict';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { publishZmq } from '../../plugins/zmq/publish.js';
import { EmperorProcess } from '../helpers/emperor-process.js';
import { canConnect, freePort, isAlive, tempDir, waitFor } from '../helpers/wait.js';
import { appOptions, get, ini, uwsgiSkip } from './helpers.js';

const skip = await uwsgiSkip();

describe('uWSGI vassals with a pushed config (zmq)', { skip }, () => {
  let cleanup: () => Promise<void>;
  let runtimeDir: string;
  let emp: EmperorProcess;
  let endpoint: string;

  before(async () => {
    const tmp = await tempDir('emperor-uwsgi-pushed-');
    cleanup = tmp.cleanup;
    runtimeDir = tmp.dir;
    endpoint = `zmq://tcp://127.0.0.1:${await freePort()}`;
    emp = new EmperorProcess([endpoint, '--no-control', '--state-dir', tmp.dir, '--throttle', '200'], { env: { XDG_RUNTIME_DIR: tmp.dir } });
    await emp.waitFor((r) => r.msg === 'zmq bound', 'the zmq monitor bound', 30_000);
  });
  after(async () => {
    await emp?.stop();
    await cleanup?.();
  });

  test('the config goes over the config pipe as emperor://NAME, and again when a new one reloads it', async () => {
    const port = await freePort();
    await publishZmq(endpoint, ['touch', 'pushed.ini', ini(appOptions(port, [['env', 'APP_NAME=v1']]))]);
    const ready = await emp.event('pushed.ini', 'ready', 30_000);
    await emp.line('pushed.ini', /getting INI configuration from emperor:\/\/pushed\.ini/);
    assert.match((await get(port, '/')).body, /^hello from v1 pid \d+$/);

    const reloaded = emp.nextEvent('pushed.ini', 'reloaded', 30_000);
    await publishZmq(endpoint, ['touch', 'pushed.ini', ini(appOptions(port, [['env', 'APP_NAME=v2']]))]);
    assert.deepEqual((await reloaded).pids, ready.pids, 'reloaded in place by the same master');
    // uWSGI asked for its config again after re-executing (byte 2) and got the new one.
    assert.match((await get(port, '/')).body, /^hello from v2 pid \d+$/);

    const stopped = emp.nextEvent('pushed.ini', 'stopped', 30_000);
    await publishZmq(endpoint, ['destroy', 'pushed.ini']);
    await stopped;
    assert.equal(await isAlive((ready.pids as number[])[0]!), false);
  });

  test('a 100 KiB config, beyond what the config pipe carries, reaches uWSGI as a private file', async () => {
    const port = await freePort();
    const padding = Array.from({ length: 1100 }, (_, i) => `; padding ${String(i).padStart(4, '0')} ${'x'.repeat(84)}`).join('\n');
    const big = (name: string): string => ini(appOptions(port, [['env', `APP_NAME=${name}`]]), `${padding}\n`);
    assert.ok(Buffer.byteLength(big('big1')) > 100 * 1024);

    await publishZmq(endpoint, ['touch', 'big.ini', big('big1')]);
    const ready = await emp.event('big.ini', 'ready', 30_000);
    const from = await emp.line('big.ini', /getting INI configuration from \//);
    const file = /from (\/\S+)/.exec(String(from.line))![1]!;
    assert.ok(file.startsWith(runtimeDir + '/'), `the copy is in the emperor's runtime dir: ${file}`);
    assert.ok(file.endsWith('/big.ini'), 'the copy keeps the vassal name, so %n stays the same');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(file))).mode & 0o777, 0o700);
    assert.match((await get(port, '/')).body, /^hello from big1 pid \d+$/);

    const reloaded = emp.nextEvent('big.ini', 'reloaded', 30_000);
    await publishZmq(endpoint, ['touch', 'big.ini', big('big2')]);
    assert.deepEqual((await reloaded).pids, ready.pids);
    assert.match((await get(port, '/')).body, /^hello from big2 pid \d+$/);

    const stopped = emp.nextEvent('big.ini', 'stopped', 30_000);
    await publishZmq(endpoint, ['destroy', 'big.ini']);
    await stopped;
    await waitFor(() => access(file).then(() => false, () => true), { what: 'the private copy removed with its vassal' });
    assert.equal(await canConnect(port), false);
  });
});
