/**
 * The emperor's side of the protocol against a stand-in uwsgi (test/fixtures/uwsgi-fake.mjs) that
 * says what it receives and misbehaves on demand: what real uWSGI will not show when asked.
 */
import assert from 'node:assert/strict';
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Emperor, type EmperorOptions } from '../../src/core/emperor.js';
import type { Vassal } from '../../src/core/vassal.js';
import { MemoryLogger, type LogRecord } from '../../src/log/logger.js';
import type { OutputSink } from '../../src/log/output.js';
import { PluginTable } from '../../src/plugin-table.js';
import { UWSGI_DEFAULTS, type UwsgiOptions } from '../../src/uwsgi/runtime.js';
import { publishZmq } from '../../plugins/zmq/publish.js';
import { FIXTURES } from '../helpers/emperor-process.js';
import { writeVassal } from '../helpers/vassal-files.js';
import { freePort, isAlive, tempDir, waitFor } from '../helpers/wait.js';

const FAKE = join(FIXTURES, 'uwsgi-fake.mjs');

interface Started {
  emperor: Emperor;
  dir: string;
  log: MemoryLogger;
  lines: Array<{ vassal: string; pid: number; line: string }>;
}

async function start(t: TestContext, uwsgi: Partial<UwsgiOptions> = {}, over: Partial<EmperorOptions> = {}): Promise<Started> {
  const tmp = await tempDir('emperor-uwsgi-proto-');
  const dir = join(tmp.dir, 'vassals');
  await mkdir(dir);
  const log = new MemoryLogger();
  const lines: Started['lines'] = [];
  const output: OutputSink = { line: (vassal, pid, line) => lines.push({ vassal, pid, line }), dropped: 0, congested: () => false, whenDrained: (fn: () => void) => fn(), close: async () => {} };
  const emperor = new Emperor({
    monitors: [dir],
    freq: 1,
    extraExtensions: [],
    backoff: { throttleMs: 300, maxThrottleMs: 5000, resetMs: 60_000 },
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
    uwsgi: { ...UWSGI_DEFAULTS, binary: FAKE, inherits: [], runtimeDir: tmp.dir, ...uwsgi },
    ...over,
  });
  t.after(async () => {
    emperor.kill();
    await emperor.close();
    await tmp.cleanup();
  });
  await emperor.start();
  return { emperor, dir, log, lines };
}

const vassal = (emperor: Emperor, name: string): Promise<Vassal> => waitFor(() => emperor.vassals.get(name), { what: `vassal ${name}`, timeoutMs: 20_000 });
const record = (log: MemoryLogger, vassalName: string, event: string, timeoutMs = 20_000): Promise<LogRecord> =>
  log.waitFor((r) => r.vassal === vassalName && r.event === event, timeoutMs);
const line = (s: Started, vassalName: string, re: RegExp): Promise<string> =>
  waitFor(() => s.lines.find((l) => l.vassal === vassalName && re.test(l.line))?.line, { what: `${re} from ${vassalName}`, timeoutMs: 20_000 });

describe('the emperor protocol, against a stand-in uwsgi', () => {
  test('the instance gets its end of the socketpair as fd 3 in UWSGI_EMPEROR_FD, and the config flag of its format', async (t) => {
    const s = await start(t);
    await writeVassal(s.dir, 'app.ini', '[uwsgi]\nmode = obedient\n');
    await record(s.log, 'app.ini', 'ready');
    assert.match(await line(s, 'app.ini', /^fake uwsgi:/), /^fake uwsgi: fd 3 config fd - argv --ini \/\S+\/app\.ini$/);
  });

  test('stop is byte 0, then SIGKILL after the curse tolerance for an instance that ignores it', async (t) => {
    const s = await start(t, { curseTolerance: 1 });
    await writeVassal(s.dir, 'obedient.ini', '[uwsgi]\nmode = obedient\n');
    await writeVassal(s.dir, 'stubborn.ini', '[uwsgi]\nmode = stubborn\n');
    const obedient = await vassal(s.emperor, 'obedient.ini');
    const stubborn = await vassal(s.emperor, 'stubborn.ini');
    await Promise.all([record(s.log, 'obedient.ini', 'ready'), record(s.log, 'stubborn.ini', 'ready')]);

    const began = Date.now();
    await obedient.stop();
    assert.ok(Date.now() - began < 900, 'an obedient instance exits at byte 0, well within the tolerance');
    assert.equal(obedient.lastExit?.reason, 'stopped');
    await line(s, 'obedient.ini', /^got 0$/);

    const pid = stubborn.pids[0]!;
    await stubborn.stop();
    assert.ok(Date.now() - began >= 1000, 'the stubborn one had its curse tolerance');
    await line(s, 'stubborn.ini', /^got 0$/);
    assert.equal(stubborn.lastExit?.forced, true);
    assert.equal(stubborn.lastExit?.signal, 'SIGKILL');
    assert.match((await record(s.log, 'stubborn.ini', 'forced-kill')).msg, /after the stop request \(curse tolerance\): killed/);
    assert.equal(await isAlive(pid), false);
  });

  test('--graceful-shutdown stops with byte 2', async (t) => {
    const s = await start(t, { gracefulShutdown: true });
    await writeVassal(s.dir, 'app.ini', '[uwsgi]\nmode = obedient\n');
    const v = await vassal(s.emperor, 'app.ini');
    await record(s.log, 'app.ini', 'ready');
    await v.stop();
    await line(s, 'app.ini', /^got 2$/);
  });

  test('a reload is byte 1 to the same process; ready again on its next byte 5', async (t) => {
    const s = await start(t);
    const path = await writeVassal(s.dir, 'app.ini', '[uwsgi]\nmode = obedient\n');
    const v = await vassal(s.emperor, 'app.ini');
    await record(s.log, 'app.ini', 'ready');
    const pid = v.pids[0];
    const later = new Date(Date.now() + 2000);
    await utimes(path, later, later);
    await record(s.log, 'app.ini', 'reloaded');
    await line(s, 'app.ini', /^got 1$/);
    assert.deepEqual(v.pids, [pid]);
    assert.equal(v.state, 'running');
    assert.equal(v.reloads, 1);
  });

  test('an instance that closes its channel and keeps running is killed after the curse tolerance, then respawned', async (t) => {
    const s = await start(t, { curseTolerance: 1 });
    await writeVassal(s.dir, 'hangup.ini', '[uwsgi]\nmode = hangup\n');
    const v = await vassal(s.emperor, 'hangup.ini');
    await line(s, 'hangup.ini', /^channel closed$/);
    const first = v.pids[0]!;
    await record(s.log, 'hangup.ini', 'cursed');
    await record(s.log, 'hangup.ini', 'crash');
    await waitFor(async () => !(await isAlive(first)) && v.pids.length === 1 && v.pids[0] !== first, { what: 'a new instance' });
  });

  test('unloyal crashers are throttled per vassal; loyal ones restart at once; neither delays another vassal', async (t) => {
    const s = await start(t);
    await writeVassal(s.dir, 'crash.ini', '[uwsgi]\nmode = crash\n');
    await writeVassal(s.dir, 'loyal.ini', '[uwsgi]\nmode = loyal-crash\n');
    const crashes = (name: string): LogRecord[] => s.log.records.filter((r) => r.vassal === name && r.event === 'crash');
    await waitFor(() => crashes('crash.ini').length >= 3 && crashes('loyal.ini').length >= 3, { what: 'three crashes each', timeoutMs: 30_000 });
    const delays = (name: string): number[] => crashes(name).slice(0, 3).map((r) => r.delayMs as number);
    assert.deepEqual(delays('crash.ini'), [0, 300, 600], 'an unloyal crasher backs off, doubling');
    assert.deepEqual(delays('loyal.ini'), [0, 0, 0], 'a loyal one (byte 17) had its crash history forgiven');

    // While crash.ini is backing off, a new vassal starts at once.
    const began = Date.now();
    await writeVassal(s.dir, 'fresh.ini', '[uwsgi]\nmode = obedient\n');
    await record(s.log, 'fresh.ini', 'ready');
    assert.ok(Date.now() - began < 5000);
  });

  test('a pushed config goes over UWSGI_EMPEROR_FD_CONFIG as one uwsgi packet (modifier1 115) with emperor://NAME', async (t) => {
    const endpoint = `zmq://tcp://127.0.0.1:${await freePort()}`;
    const s = await start(t, {}, { monitors: [endpoint] });
    await s.log.waitFor((r) => r.msg === 'zmq bound', 20_000);
    await publishZmq(endpoint, ['touch', 'row.ini', '[uwsgi]\nmode = obedient\n']);
    await record(s.log, 'row.ini', 'ready');
    assert.match(await line(s, 'row.ini', /^fake uwsgi:/), /^fake uwsgi: fd 3 config fd 4 argv --ini emperor:\/\/row\.ini$/);
    assert.equal(await line(s, 'row.ini', /^config packet:/), 'config packet: modifier1 115 size 24 modifier2 0');
  });
});
