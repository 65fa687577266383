/**
 * The pieces of the uWSGI support that need no uwsgi binary: the config packet, the command line,
 * the environment, what the emperor keeps of a [uwsgi] config, the private copies, in-place reloads.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { loadVassalConfig } from '../../src/config/load.js';
import type { UwsgiVassalConfig } from '../../src/config/types.js';
import { planVassal, type VassalPlan } from '../../src/core/plan.js';
import { isEmperorError } from '../../src/errors.js';
import { formatFlag, uwsgiArgv } from '../../src/uwsgi/argv.js';
import { ConfigTooLarge, configPacket, fitsPacket } from '../../src/uwsgi/config-packet.js';
import { UwsgiDriver, type UwsgiDriverOptions } from '../../src/uwsgi/driver.js';
import { uwsgiVassalEnv } from '../../src/uwsgi/env.js';
import { PrivateConfigs } from '../../src/uwsgi/private-config.js';
import { UWSGI_DEFAULTS, UwsgiRuntime } from '../../src/uwsgi/runtime.js';
import { MAX_PUSHED_CONFIG_BYTES } from '../../src/uwsgi/protocol.js';
import { uwsgiVassalConfig } from '../../src/uwsgi/vassal-config.js';
import { FIXTURES } from '../helpers/emperor-process.js';
import { tempDir } from '../helpers/wait.js';

describe('the config packet', () => {
  test('a 4-byte uwsgi header {modifier1 115, size u16 little-endian, modifier2 0}, then the config', () => {
    const p = configPacket('[uwsgi]\nsocket = :3031\n');
    assert.deepEqual([...p.subarray(0, 4)], [115, 23, 0, 0]);
    assert.equal(p.subarray(4).toString(), '[uwsgi]\nsocket = :3031\n');
    assert.equal(configPacket('é').readUInt16LE(1), 2, 'the size counts bytes, not characters');
  });

  test('65535 bytes fit; one more cannot be pushed (uWSGI reads a 16-bit size); empty is refused', () => {
    const max = 'x'.repeat(MAX_PUSHED_CONFIG_BYTES);
    assert.equal(configPacket(max).readUInt16LE(1), 65535);
    assert.equal(fitsPacket(max), true);
    assert.equal(fitsPacket(max + 'x'), false);
    assert.throws(() => configPacket(max + 'x'), (e: unknown) => e instanceof ConfigTooLarge && e.bytes === 65536 && /at most 65535 bytes/.test(e.message));
    assert.equal(fitsPacket(''), false);
    assert.throws(() => configPacket(''), RangeError);
  });
});

describe('the uwsgi command line', () => {
  test('the flag follows the extension, as uWSGI picks it; other extensions are --config', () => {
    assert.deepEqual(
      ['a.ini', 'a.xml', 'a.yml', 'a.yaml', 'a.json', 'a.js', 'a.conf', '/etc/uwsgi/vassals/b.ini'].map(formatFlag),
      ['--ini', '--xml', '--yaml', '--yaml', '--json', '--json', '--config', '--ini'],
    );
  });

  test('sets before the config, inherits and includes after it (uWSGI vassal_new_argv)', () => {
    assert.deepEqual(
      uwsgiArgv({ binary: 'uwsgi', name: 'app.yml', target: 'emperor://app.yml', inherits: ['/t/base.ini'], includes: ['/t/a.ini', '/t/b.ini'], sets: [['env', 'A=1'], ['tag', 'x']] }),
      ['uwsgi', '--set', 'env=A=1', '--set', 'tag=x', '--yaml', 'emperor://app.yml', '--inherit', '/t/base.ini', '--include', '/t/a.ini', '--include', '/t/b.ini'],
    );
  });
});

test('UWSGI_VASSAL_xxx becomes UWSGI_xxx; the emperor’s own protocol variables stay out', () => {
  const env = uwsgiVassalEnv({
    PATH: '/bin',
    UWSGI_VASSAL_SOCKET: ':3031',
    UWSGI_SOCKET: ':9999',
    UWSGI_VASSAL_: 'ignored name',
    UWSGI_EMPEROR_FD: '3',
    UWSGI_EMPEROR_FD_CONFIG: '4',
    UWSGI_BROODLORD_NUM: '1',
    UWSGI_RELOADS: '2',
    NOTIFY_SOCKET: '/run/systemd/notify',
    GONE: undefined,
  });
  assert.deepEqual(env, { PATH: '/bin', UWSGI_SOCKET: ':3031', UWSGI_VASSAL_: 'ignored name' });
});

describe('what the emperor keeps of a [uwsgi] config', () => {
  const load = async (): Promise<UwsgiVassalConfig> => {
    const path = join(FIXTURES, 'configs', 'uwsgi-app.ini');
    const loaded = loadVassalConfig({ text: await readFile(path, 'utf8'), format: 'ini', path }, { name: 'uwsgi-app.ini', hostname: 'h', env: {} });
    assert.equal(loaded.kind, 'uwsgi');
    return loaded.config as UwsgiVassalConfig;
  };

  test('the uwsgi command, one worker, the curse tolerance as stop timeout, and only alarm-eventfd with its alarms', async () => {
    const config = uwsgiVassalConfig(await load(), { argv: ['uwsgi', '--ini', 'x.ini'], curseToleranceS: 30, origin: 'x.ini', manageCgroup: false });
    assert.deepEqual(config.command, ['uwsgi', '--ini', 'x.ini']);
    assert.equal(config.processes, 1);
    assert.equal(config.stopTimeout, 30);
    // `alarm = crash mule:1` and every log-alarm are uWSGI's: never run here too.
    assert.deepEqual(config.alarms, [{ name: 'mem', action: 'log', args: 'memory of uwsgi-app is high', line: 6 }]);
    assert.deepEqual(config.logAlarms, []);
    assert.deepEqual(config.alarmCrash, []);
    assert.deepEqual(config.alarmEventfd, ['"mem:uwsgi-app uses too much memory" /sys/fs/cgroup/memory/uwsgi-app/cgroup.event_control /sys/fs/cgroup/memory/uwsgi-app/memory.usage_in_bytes 100000000']);
    assert.deepEqual(config.entries.map((e) => e.key), ['alarm', 'alarm-eventfd']);
    assert.equal(config.cgroup, undefined, 'without cgroup support the cgroup stays uWSGI’s alone');
    assert.equal(config.alarmFreq, 3, 'the alarm defaults of any vassal');
  });

  test('with cgroup support the emperor manages the cgroup the config names', async () => {
    const config = uwsgiVassalConfig(await load(), { argv: ['uwsgi'], curseToleranceS: 5, origin: 'x.ini', manageCgroup: true });
    assert.equal(config.cgroup, '/sys/fs/cgroup/memory/uwsgi-app');
    assert.deepEqual(config.cgroupOpts, [], 'cgroup-opt stays uWSGI’s');
  });
});

describe('private copies of large pushed configs', () => {
  test('0600 in a 0700 directory owned by the vassal’s user, under a 0711 directory; rewritten atomically; removed', async (t) => {
    const tmp = await tempDir('emperor-uwsgi-copies-');
    t.after(tmp.cleanup);
    const copies = new PrivateConfigs(tmp.dir);
    const owner = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const path = await copies.write('big.ini', 'one', owner);
    assert.equal(path, await copies.pathFor('big.ini'));
    assert.ok(path.endsWith('/big.ini'));
    const file = await stat(path);
    const dir = await stat(dirname(path));
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal(dir.mode & 0o777, 0o700);
    assert.equal((await stat(dirname(dirname(path)))).mode & 0o777, 0o711);
    if (owner.uid !== undefined) {
      assert.deepEqual([file.uid, file.gid, dir.uid, dir.gid], [65534, 65534, 65534, 65534]);
    }
    await copies.write('big.ini', 'two', owner);
    assert.equal(await readFile(path, 'utf8'), 'two');
    assert.notEqual(await copies.pathFor('other/big.ini'), path, 'one directory per vassal name');

    await copies.remove('big.ini');
    await assert.rejects(stat(path));
    await copies.write('again.ini', 'x', {});
    await copies.close();
    await assert.rejects(stat(dirname(dirname(path))), 'close removes every copy');
    await copies.close();
  });
});

describe('reload in place', () => {
  const options = (over: Partial<UwsgiDriverOptions> = {}): UwsgiDriverOptions => ({
    argv: ['uwsgi', '--ini', '/v/app.ini'],
    zergArgv: ['uwsgi', '--ini', '/v/app.ini:zerg'],
    pushed: undefined,
    curseToleranceMs: 30_000,
    gracefulShutdown: false,
    requiredHeartbeatMs: 30_000,
    brood: { limit: 0, count: 0 },
    ...over,
  });
  const plan = (driver: UwsgiDriver | undefined, worker: Partial<VassalPlan['worker']> = {}): VassalPlan =>
    ({ spec: { name: 'app.ini' }, config: {}, worker: { argv: driver?.options.argv ?? ['node'], env: {}, cwd: '/v', ...worker }, ...(driver ? { driver } : {}) }) as unknown as VassalPlan;

  test('only while the command line, credentials and directory the instance re-executes with are unchanged', () => {
    const d = new UwsgiDriver(options());
    assert.equal(d.reloadsInPlace(plan(d), plan(new UwsgiDriver(options()))), true);
    assert.equal(d.reloadsInPlace(plan(d), plan(new UwsgiDriver(options({ argv: ['uwsgi', '--set', 'a=b', '--ini', '/v/app.ini'] })))), false);
    assert.equal(d.reloadsInPlace(plan(d), plan(new UwsgiDriver(options()), { uid: 1000, gid: 1000 })), false);
    assert.equal(d.reloadsInPlace(plan(d), plan(new UwsgiDriver(options({ pushed: '[uwsgi]' })))), false);
    assert.equal(d.reloadsInPlace(plan(d), plan(undefined)), false, 'a [vassal] config replaces the instance');
  });
});

test('a [uwsgi] config whose binary is missing is refused with what to do', async () => {
  const rt = new UwsgiRuntime({ ...UWSGI_DEFAULTS, binary: 'no-such-uwsgi-binary', inherits: [] });
  const spec = { name: 'app.ini', source: 'dir', revision: '1', config: { text: '[uwsgi]\nsocket = :3031\n', format: 'ini' as const, path: '/v/app.ini' } };
  const loaded = loadVassalConfig(spec.config, { name: 'app.ini', hostname: 'h', env: {} });
  await assert.rejects(
    rt.plan(spec, loaded.config as UwsgiVassalConfig, { includes: [], sets: [], env: { PATH: '/nonexistent' }, cwd: '/', cgroups: false, planBase: () => Promise.reject(new Error('not reached')) }),
    (e: unknown) => isEmperorError(e) && e.file === '/v/app.ini' && /uwsgi binary 'no-such-uwsgi-binary' is not in PATH: install uWSGI .* or name it with --uwsgi-binary/.test(e.message),
  );
  await rt.close();
});

test('a [uwsgi] config runs the uwsgi binary by the path found in PATH, looked up once', async () => {
  const dir = join(FIXTURES, 'uwsgi-seed');
  const rt = new UwsgiRuntime({ ...UWSGI_DEFAULTS, binary: 'true', inherits: [] });
  const path = join(dir, 'trac.ini');
  const spec = { name: 'trac.ini', source: dir, revision: '1', config: { text: await readFile(path, 'utf8'), format: 'ini' as const, path } };
  const loaded = loadVassalConfig(spec.config, { name: 'trac.ini', hostname: 'h', env: {} });
  const plan = await rt.plan(spec, loaded.config as UwsgiVassalConfig, {
    includes: [],
    sets: [],
    env: { PATH: '/nonexistent:/bin:/usr/bin' },
    cwd: dir,
    cgroups: false,
    planBase: (config, env) => planVassal(spec, config, { env, defaultCwd: dir, isRoot: false }),
  });
  // The exec helper runs this path as it is: no second walk along PATH at every spawn.
  assert.equal(plan.worker.argv[0], '/bin/true');
  assert.deepEqual(plan.worker.argv.slice(1), ['--ini', path]);
  await rt.close();
});

test('the seed fleet (werkzeug.xml, trac.ini, rails.yml, django.ini) plans unchanged: uWSGI’s own keys stay uWSGI’s', async () => {
  const dir = join(FIXTURES, 'uwsgi-seed');
  const rt = new UwsgiRuntime({ ...UWSGI_DEFAULTS, binary: '/bin/true', inherits: [] });
  const flags: Record<string, string> = {};
  for (const [name, format] of [['werkzeug.xml', 'xml'], ['trac.ini', 'ini'], ['rails.yml', 'yaml'], ['django.ini', 'ini']] as const) {
    const path = join(dir, name);
    const spec = { name, source: dir, revision: '1', config: { text: await readFile(path, 'utf8'), format, path } };
    const loaded = loadVassalConfig(spec.config, { name, hostname: 'h', env: {} });
    assert.equal(loaded.kind, 'uwsgi', name);
    const plan = await rt.plan(spec, loaded.config as UwsgiVassalConfig, {
      includes: [],
      sets: [],
      env: { PATH: '/usr/bin:/bin' },
      cwd: dir,
      cgroups: false,
      // chdir = /opt/djangoapp001 does not exist here: uWSGI's chdir is uWSGI's, the emperor starts it in the config's directory.
      planBase: (config, env) => planVassal(spec, config, { env, defaultCwd: dir, isRoot: false }),
    });
    assert.deepEqual(plan.worker.argv.slice(2), [path]);
    assert.equal(plan.worker.cwd, dir);
    assert.equal(plan.worker.pidns, false);
    assert.equal(plan.driver?.kind, 'uwsgi');
    flags[name] = plan.worker.argv[1]!;
  }
  assert.deepEqual(flags, { 'werkzeug.xml': '--xml', 'trac.ini': '--ini', 'rails.yml': '--yaml', 'django.ini': '--ini' });
  await rt.close();
});
