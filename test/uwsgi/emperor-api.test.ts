/**
 * A real uWSGI vassal seen through the Emperor API: its protocol state on the Vassal (what stats
 * show), and the split of alarms between uWSGI and the emperor.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { AlarmSubsystem } from '../../src/alarms/subsystem.js';
import type { VassalConfig } from '../../src/config/types.js';
import { Emperor, type EmperorOptions } from '../../src/core/emperor.js';
import type { Vassal } from '../../src/core/vassal.js';
import { MemoryLogger } from '../../src/log/logger.js';
import type { OutputSink } from '../../src/log/output.js';
import { PluginTable } from '../../src/plugin-table.js';
import type { TriggerHost } from '../../src/plugin.js';
import { UWSGI_DEFAULTS } from '../../src/uwsgi/runtime.js';
import { writeVassal } from '../helpers/vassal-files.js';
import { freePort, tempDir, waitFor } from '../helpers/wait.js';
import { appOptions, childrenOf, get, ini, uwsgiSkip } from './helpers.js';

const skip = await uwsgiSkip();

async function start(t: TestContext, over: Partial<EmperorOptions> = {}): Promise<{ emperor: Emperor; dir: string; log: MemoryLogger }> {
  const tmp = await tempDir('emperor-uwsgi-api-');
  const dir = join(tmp.dir, 'vassals');
  await mkdir(dir);
  const log = new MemoryLogger();
  const output: OutputSink = { line: () => {}, dropped: 0, congested: () => false, whenDrained: (fn: () => void) => fn(), close: async () => {} };
  const emperor = new Emperor({
    monitors: [dir],
    freq: 1,
    extraExtensions: [],
    backoff: { throttleMs: 200, maxThrottleMs: 5000, resetMs: 10_000 },
    includes: [],
    sets: [],
    settleMs: 20,
    maxConfigBytes: 1024 * 1024,
    nodeName: 'test',
    stateDir: tmp.dir,
    tyrant: false,
    tyrantNofollow: false,
    log,
    output,
    plugins: new PluginTable(),
    uwsgi: { ...UWSGI_DEFAULTS, inherits: [], runtimeDir: tmp.dir },
    ...over,
  });
  t.after(async () => {
    await emperor.close();
    await tmp.cleanup();
  });
  await emperor.start();
  return { emperor, dir, log };
}

function vassalOf(emperor: Emperor, name: string): Promise<Vassal> {
  return waitFor(() => emperor.vassals.get(name), { what: `vassal ${name}`, timeoutMs: 30_000 });
}

describe('a uWSGI vassal through the Emperor API', { skip }, () => {
  test('its protocol state is on the Vassal: ready, accepting, loyal, last heartbeat', async (t) => {
    const { emperor, dir } = await start(t);
    const port = await freePort();
    await writeVassal(dir, 'state.ini', ini(appOptions(port, [['heartbeat', '1']])));
    const v = await vassalOf(emperor, 'state.ini');
    await waitFor(() => v.ready, { what: 'ready (byte 1)', timeoutMs: 30_000 });
    assert.equal(v.state, 'running');
    assert.equal(v.pids.length, 1);
    assert.equal((await childrenOf(v.pids[0]!)).length > 0, true, 'the pid is the uWSGI master itself, with its workers');
    await waitFor(() => v.accepting, { what: 'accepting (byte 5)' });
    assert.equal(v.loyal, false, 'not loyal before serving a request');

    assert.equal((await get(port, '/')).status, 200);
    await waitFor(() => v.loyal, { what: 'loyal (byte 17)' });
    const beat = await waitFor(() => v.lastHeartbeat, { what: 'a heartbeat (byte 26)' });
    assert.ok(Date.now() - beat < 10_000);
    await waitFor(() => v.lastHeartbeat! > beat, { what: 'heartbeats keep coming' });
  });

  test('the emperor runs alarm-eventfd with the alarms it names; uWSGI runs its own alarms, once', async (t) => {
    const port = await freePort();
    const tmp = await tempDir('emperor-uwsgi-alarm-');
    t.after(tmp.cleanup);
    const fired = join(tmp.dir, 'fired.txt');
    const eventfd = 'mem:memory of %n is high /sys/fs/cgroup/memory/alarm-test/cgroup.event_control /sys/fs/cgroup/memory/alarm-test/memory.usage_in_bytes 100000000';
    let seen: VassalConfig | undefined;
    let trigger: { values: readonly string[]; host: TriggerHost } | undefined;
    const { emperor, dir } = await start(t, {
      createAlarms: (host, plugins) => {
        seen = host.plan.config;
        return AlarmSubsystem.create(host.plan.config, {
          vassal: host.vassal,
          log: host.log,
          signalWorkers: host.signalWorkers,
          pids: host.pids,
          resolveAction: (prefix) => plugins.action(prefix),
          // The eventfd itself is the cgroup-eventfd plugin's (tested there): here, what it is given.
          resolveTrigger: (option) =>
            Promise.resolve(option === 'alarm-eventfd' ? (values: readonly string[], h: TriggerHost) => ((trigger = { values, host: h }), { close: () => {} }) : undefined),
        });
      },
    });
    await writeVassal(
      dir,
      'alarmed.ini',
      ini(appOptions(port), [
        `alarm = hello cmd:echo fired >> ${fired}`,
        'alarm = mem log:memory is high',
        'log-alarm = hello ^spawned uWSGI worker',
        `alarm-eventfd = ${eventfd}`,
        '',
      ].join('\n')),
    );
    const v = await vassalOf(emperor, 'alarmed.ini');
    await waitFor(() => v.ready, { what: 'ready', timeoutMs: 30_000 });

    // The emperor's side: exactly the alarm-eventfd line and the alarm it names.
    assert.ok(seen);
    assert.deepEqual(seen.alarms.map((a) => a.name), ['mem']);
    assert.deepEqual(seen.logAlarms, []);
    assert.deepEqual(seen.alarmEventfd, [eventfd.replace('%n', 'alarmed')]);
    assert.deepEqual(seen.entries.map((e) => e.key), ['alarm', 'alarm-eventfd']);
    assert.ok(trigger);
    assert.deepEqual(trigger.values, seen.alarmEventfd);
    trigger.host.raise(['mem'], 'memory of alarmed is high');
    await waitFor(() => (v.alarmStats() as { fired: Record<string, number> }).fired.mem === 1, { what: 'the emperor fired mem' });

    // uWSGI's side: its log-alarm fired its cmd alarm once, and the emperor never knew of it.
    await waitFor(async () => (await readFile(fired, 'utf8').catch(() => '')).trim() === 'fired', { what: "uWSGI's own alarm" });
    assert.equal((v.alarmStats() as { fired: Record<string, number> }).fired.hello, undefined);
    assert.equal((await readFile(fired, 'utf8')).trim().split('\n').length, 1);
  });
});
