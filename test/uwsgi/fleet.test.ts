/**
 * A /etc/uwsgi/vassals-style directory of real uWSGI vassals (ini, xml, yaml) under the real
 * `emperor` command: they run unchanged over the emperor protocol.
 */
import assert from 'node:assert/strict';
import { access, mkdir, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmperorProcess } from '../helpers/emperor-process.js';
import { writeVassal } from '../helpers/vassal-files.js';
import { canConnect, freePort, isAlive, tempDir, waitFor } from '../helpers/wait.js';
import { appOptions, childrenOf, get, ini, uwsgiSkip, xml, yaml } from './helpers.js';

const skip = await uwsgiSkip();

describe('a directory of real uWSGI vassals', { skip }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let emp: EmperorProcess;

  before(async () => {
    ({ dir, cleanup } = await tempDir('emperor-uwsgi-fleet-'));
    const vassals = join(dir, 'vassals');
    await writeFile(join(dir, 'include.ini'), '[uwsgi]\ninclude-tag = green\n');
    await writeFile(join(dir, 'inherit.ini'), '[uwsgi]\ninherit-tag = red\n');
    await mkdir(vassals);
    emp = new EmperorProcess(
      [
        vassals,
        '--no-control',
        '--log-level', 'debug',
        '--throttle', '200',
        '--required-heartbeat', '3',
        '--broodlord', '1',
        '--curse-tolerance', '10',
        '--vassal-set', 'fleet-tag=blue',
        '--vassals-include', join(dir, 'include.ini'),
        '--vassals-inherit', join(dir, 'inherit.ini'),
      ],
      { env: { UWSGI_VASSAL_ENV: 'FLEET_ENV=yes' } },
    );
    await emp.event(undefined, 'start');
    dir = vassals;
  });
  after(async () => {
    await emp?.stop();
    await cleanup?.();
  });

  test('ini, xml and yaml vassals run unchanged: each serves HTTP, is ready, then loyal', async () => {
    const formats = [
      ['web.ini', ini],
      ['api.xml', xml],
      ['rails.yml', yaml],
    ] as const;
    const ports: number[] = [];
    for (const [name, render] of formats) {
      const port = await freePort();
      ports.push(port);
      await writeVassal(dir, name, render(appOptions(port, [['env', `APP_NAME=${name}`]])));
    }
    for (const [i, [name]] of formats.entries()) {
      const ready = await emp.event(name, 'ready', 30_000);
      const master = (ready.pids as number[])[0]!;
      const res = await get(ports[i]!, '/');
      assert.equal(res.status, 200);
      assert.match(res.body, new RegExp(`^hello from ${name.replace('.', '\\.')} pid \\d+$`));
      const loyal = await emp.event(name, 'loyal');
      assert.equal(loyal.pid, master, 'the uWSGI master announced its loyalty after the first request');
    }
    // uWSGI read the file itself, under the flag of its format.
    await emp.line('api.xml', /parsing config file .*api\.xml/);
    await emp.line('rails.yml', /getting YAML configuration from .*rails\.yml/);
  });

  test('touch is a graceful reload: a request in flight completes, the master keeps its pid, new requests work', async () => {
    const port = await freePort();
    const path = await writeVassal(dir, 'app.ini', ini(appOptions(port)));
    const ready = await emp.event('app.ini', 'ready', 30_000);
    const master = (ready.pids as number[])[0]!;
    const first = await get(port, '/');
    const oldWorker = /pid (\d+)$/.exec(first.body)![1];

    const started = emp.nextLine('app.ini', /^slow start 3000$/);
    const inflight = get(port, '/slow?ms=3000', 30_000);
    await started;
    const reload = emp.nextEvent('app.ini', 'reload');
    const reloaded = emp.nextEvent('app.ini', 'reloaded', 30_000);
    const later = new Date(Date.now() + 2000);
    await utimes(path, later, later);
    assert.equal((await reload).mode, 'in-place');

    const slow = await inflight;
    assert.equal(slow.status, 200);
    assert.equal(slow.body, `slow done 3000 pid ${oldWorker}`, 'the request in flight completed on the old worker');
    assert.deepEqual((await reloaded).pids, [master], 'the master re-executed in place');
    await emp.line('app.ini', /received message 1 from emperor/);

    const after = await get(port, '/');
    assert.equal(after.status, 200);
    assert.notEqual(/pid (\d+)$/.exec(after.body)![1], oldWorker, 'a new worker answers after the reload');
    assert.ok(await isAlive(master));
  });

  test('--vassal-set, --vassals-include, --vassals-inherit and UWSGI_VASSAL_* reach uWSGI as its own options', async () => {
    const port = await freePort();
    await writeVassal(dir, 'opts.ini', ini(appOptions(port)));
    await emp.event('opts.ini', 'ready', 30_000);
    assert.equal((await get(port, '/config?key=fleet-tag')).body, 'fleet-tag=blue');
    assert.equal((await get(port, '/config?key=include-tag')).body, 'include-tag=green');
    assert.equal((await get(port, '/config?key=inherit-tag')).body, 'inherit-tag=red');
    assert.equal((await get(port, '/env?name=FLEET_ENV')).body, 'FLEET_ENV=yes');
    assert.equal((await get(port, '/env?name=UWSGI_VASSAL_ENV')).body, 'UWSGI_VASSAL_ENV=', 'rewritten, not passed on');
    const start = await emp.event('opts.ini', 'start');
    assert.match(String(start.msg), /uwsgi --set fleet-tag=blue --ini .*opts\.ini --inherit .*inherit\.ini --include .*include\.ini$/);
  });

  test('an instance whose workers stop sending heartbeats is killed and respawned (--required-heartbeat 3)', async () => {
    const port = await freePort();
    await writeVassal(dir, 'beat.ini', ini(appOptions(port, [['processes', '2'], ['heartbeat', '1']])));
    const ready = await emp.event('beat.ini', 'ready', 30_000);
    const master = (ready.pids as number[])[0]!;
    await emp.event('beat.ini', 'heartbeat-watch');
    const workers = await waitFor(async () => {
      const kids = await childrenOf(master);
      return kids.length === 2 ? kids : undefined;
    }, { what: 'two uWSGI workers' });
    const lost = emp.nextEvent('beat.ini', 'heartbeat-lost', 15_000);
    const respawned = emp.nextEvent('beat.ini', 'ready', 30_000);
    for (const w of workers) process.kill(w, 'SIGSTOP');
    const at = Date.now();
    await lost;
    assert.ok(Date.now() - at >= 1500, 'not killed before the heartbeats actually stopped');
    const again = await respawned;
    assert.notEqual((again.pids as number[])[0], master);
    await waitFor(async () => !(await isAlive(master)) && (await Promise.all(workers.map(isAlive))).every((a) => !a), { what: 'the silent instance and its stopped workers gone' });
    assert.equal((await get(port, '/')).status, 200);
  });

  test('SOS starts a zerg from the [zerg] section, at most --broodlord; an idle zerg stops for good', async () => {
    const port = await freePort();
    const zergPort = await freePort();
    const fifo = join(dir, 'brood.fifo');
    const zerg = `\n[zerg]\n${appOptions(zergPort, [['env', 'APP_NAME=zerg'], ['idle', '4'], ['die-on-idle', 'true']]).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
    await writeVassal(dir, 'brood.ini', ini(appOptions(port, [['master-fifo', fifo]]), zerg));
    await emp.event('brood.ini', 'ready', 30_000);
    await waitFor(() => access(fifo).then(() => true), { what: 'the master fifo' });

    const sos = emp.nextEvent('brood.ini', 'sos');
    const extra = emp.nextEvent('brood.ini', 'extra');
    await writeFile(fifo, 'B');
    await sos;
    assert.equal((await extra).variant, 'zerg');
    await waitFor(() => canConnect(zergPort), { what: 'the zerg listening', timeoutMs: 30_000 });
    assert.match((await get(zergPort, '/')).body, /^hello from zerg pid \d+$/);

    const refused = emp.nextEvent('brood.ini', 'sos-refused');
    await writeFile(fifo, 'B');
    assert.match(String((await refused).msg), /1 zergs already run/);

    // The zerg goes idle, asks to stop (byte 22) and is not respawned; its base keeps serving.
    await emp.nextEvent('brood.ini', 'retired', 30_000);
    await waitFor(async () => !(await canConnect(zergPort)), { what: 'the zerg gone' });
    assert.equal((await get(port, '/')).status, 200);
  });

  test('exit code 26: the instance is not respawned', async () => {
    await writeVassal(dir, 'exile.ini', '[uwsgi]\nhook-asap = exit:26\n');
    const exiled = await emp.event('exile.ini', 'exiled', 30_000);
    assert.equal(typeof exiled.pid, 'number');
    assert.equal(emp.records.filter((r) => r.vassal === 'exile.ini' && r.event === 'crash').length, 0);
  });

  test('delete stops the instance', async () => {
    const port = await freePort();
    const path = await writeVassal(dir, 'gone.ini', ini(appOptions(port)));
    const ready = await emp.event('gone.ini', 'ready', 30_000);
    const master = (ready.pids as number[])[0]!;
    assert.equal((await get(port, '/')).status, 200);
    const stopped = emp.nextEvent('gone.ini', 'stopped', 30_000);
    await unlink(path);
    await stopped;
    await emp.line('gone.ini', /received message 0 from emperor/);
    assert.equal(await isAlive(master), false);
    assert.equal(await canConnect(port), false);
  });
});
