import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { loadVassalConfig, parseConfig } from '../../src/config/load.js';
import type { RawConfig } from '../../src/config/types.js';
import { baseOptions, fixture, FIXTURES, load, loadUwsgi, refuses, vassal } from './helpers.js';

const include = (text: string, origin = '/etc/emperor/template.ini'): RawConfig => parseConfig({ text, format: 'ini' }, origin);

describe('includes and sets', () => {
  const template = include(fixture('template.ini'), join(FIXTURES, 'template.ini'));

  it("appends an include's repeatable values after the vassal's own", () => {
    const c = load(vassal('env = OWN=1', 'alarm = own log:'), 'ini', { includes: [template] });
    assert.deepEqual(Object.keys(c.env), ['OWN', 'FROM_TEMPLATE']);
    assert.deepEqual(c.alarms.map((a) => a.name), ['own', 'tmpl']);
    assert.deepEqual(c.entries.map((e) => e.key), ['command', 'env', 'alarm', 'processes', 'stop-timeout', 'env', 'alarm']);
  });

  it("takes a single-valued key from the include only when the vassal does not set it", () => {
    const c = load(vassal('processes = 2'), 'ini', { includes: [template] });
    assert.equal(c.processes, 2, "the vassal's own value wins");
    assert.equal(c.stopTimeout, 30, 'the include fills what the vassal leaves out');
  });

  it('lets the last include win among includes', () => {
    const c = load(vassal(), 'ini', { includes: [template, include('[vassal]\nprocesses = 8\n', 'b.ini')] });
    assert.equal(c.processes, 8);
  });

  it('lets --vassal-set override everything, and append to repeatable keys', () => {
    const c = load(vassal('processes = 2', 'env = A=own'), 'ini', {
      includes: [template],
      sets: [
        ['processes', '6'],
        ['env', 'A=set'],
        ['stop-timeout', '1'],
      ],
    });
    assert.equal(c.processes, 6);
    assert.equal(c.stopTimeout, 1);
    assert.deepEqual(c.env, { A: 'set', FROM_TEMPLATE: '1' });
  });

  it('turns a --vassal-set of a name that is no key into a placeholder', () => {
    const c = load(vassal('chdir = /srv/%(release)'), 'ini', { sets: [['release', '2024-05']] });
    assert.equal(c.chdir, '/srv/2024-05');
  });

  it('resolves placeholders of an include against the vassal, and %(key) against the merged values', () => {
    const tmpl = include('[vassal]\nchdir = /srv/%n\nlogto = /var/log/%(app).log\n');
    const c = load(vassal('set-ph = app=shop'), 'ini', { name: 'shop.ini', includes: [tmpl] });
    assert.equal(c.chdir, '/srv/shop');
    assert.equal(c.logto, '/var/log/shop.log');
  });

  it('gives %(key) the value that wins', () => {
    const c = load(vassal('port = 3031', 'env = PORT=%(port)'), 'ini', { includes: [include('[vassal]\nport = 1\n')], sets: [['port', '4000']] });
    assert.equal(c.env.PORT, '4000');
  });

  it('points errors in an include to the include file and its line', () => {
    refuses(() => load(vassal(), 'ini', { includes: [include('[vassal]\n\nprocesses = lots\n', '/etc/emperor/base.ini')] }), {
      code: ErrorCodes.CONFIG_INVALID,
      file: '/etc/emperor/base.ini',
      line: 3,
      key: 'processes',
      message: "processes: expected an integer from 1 to 4096, got 'lots'",
    });
    refuses(() => load(vassal(), 'ini', { sets: [['processes', 'x']] }), { code: ErrorCodes.CONFIG_INVALID, file: '--vassal-set', line: undefined, key: 'processes' });
  });

  it('lets an include define the alarms a vassal names', () => {
    const c = load(vassal('alarm-crash = tmpl'), 'ini', { includes: [template] });
    assert.deepEqual(c.alarmCrash, ['tmpl']);
  });
});

describe('[uwsgi] configs', () => {
  it('passes a [uwsgi] section through, keeping only what the emperor runs', () => {
    const path = join(FIXTURES, 'uwsgi-app.ini');
    const c = loadUwsgi(fixture('uwsgi-app.ini'), { name: 'uwsgi-app.ini', path });
    assert.equal(c.raw.section, 'uwsgi');
    assert.equal(c.raw.origin, path);
    assert.deepEqual(c.raw.entries[0], { key: 'master', value: 'true', line: 2 });
    assert.equal(c.cgroup, '/sys/fs/cgroup/memory/uwsgi-app');
    assert.deepEqual(c.alarmEventfd, [
      '"mem:uwsgi-app uses too much memory" /sys/fs/cgroup/memory/uwsgi-app/cgroup.event_control /sys/fs/cgroup/memory/uwsgi-app/memory.usage_in_bytes 100000000',
    ]);
    assert.deepEqual(c.alarms, [{ name: 'mem', action: 'log', args: 'memory of uwsgi-app is high', line: 6 }]);
  });

  it('uses the computed cgroup for %(cgroup) in alarm-eventfd lines', () => {
    const c = loadUwsgi('[uwsgi]\ncgroup = app\nalarm = oom log:\nalarm-eventfd = oom %(cgroup)/cgroup.event_control %(cgroup)/memory.oom_control\n', {
      computed: { cgroup: (v) => (v === undefined ? undefined : `/sys/fs/cgroup/memory/emperor/${v}`) },
    });
    assert.equal(c.cgroup, 'app');
    assert.deepEqual(c.alarmEventfd, ['oom /sys/fs/cgroup/memory/emperor/app/cgroup.event_control /sys/fs/cgroup/memory/emperor/app/memory.oom_control']);
  });

  it('does not judge uWSGI keys, but refuses an alarm-eventfd naming an undefined alarm', () => {
    const c = loadUwsgi('[uwsgi]\nsocket = :3031\nproceses = whatever\nalarm = x weird syntax\n');
    assert.deepEqual([c.alarmEventfd, c.alarms, c.cgroup], [[], [], undefined]);
    refuses(() => loadUwsgi('[uwsgi]\nalarm = mem log:\nalarm-eventfd = nope /c /s\n'), {
      code: ErrorCodes.CONFIG_INVALID,
      line: 3,
      key: 'alarm-eventfd',
      message: "alarm-eventfd: unknown alarm 'nope' (defined: mem)",
    });
  });

  it('validates a [uwsgi] section with a command like a [vassal] one', () => {
    const c = load('[uwsgi]\ncommand = node app.js\nprocesses = 3\n');
    assert.equal(c.processes, 3);
    refuses(() => load('[uwsgi]\ncommand = node app.js\nsocket = :80\n'), { code: ErrorCodes.CONFIG_INVALID, line: 3, key: 'socket', message: "unknown key 'socket'" });
  });
});

describe('bad input', () => {
  const loadFile = (file: string) => loadVassalConfig({ text: readFileSync(join(FIXTURES, file), 'utf8'), format: 'ini', path: join(FIXTURES, file) }, { ...baseOptions, name: file });

  it('refuses a binary file with a parse error, not a crash', () => {
    refuses(() => loadFile('binary.ini'), { code: ErrorCodes.CONFIG_PARSE, file: join(FIXTURES, 'binary.ini'), line: 1, message: 'expected a text config, got a NUL byte (is this a binary file?)' });
    for (const format of ['yaml', 'json', 'xml'] as const) {
      refuses(() => parseConfig({ text: 'vassal:\n\0\0\0', format }, 'x'), { code: ErrorCodes.CONFIG_PARSE, line: 2, message: /NUL byte/ });
    }
  });

  it('refuses text that was not UTF-8, with its line', () => {
    refuses(() => loadFile('latin1.ini'), { code: ErrorCodes.CONFIG_PARSE, line: 2, message: 'expected UTF-8 text, got bytes that are not valid UTF-8 (save the file as UTF-8)' });
  });

  it('survives random bytes in every format with a coded error', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      for (const format of ['ini', 'yaml', 'json', 'xml'] as const) {
        try {
          loadVassalConfig({ text: bytes.toString('utf8'), format }, baseOptions);
        } catch (err) {
          assert.ok(err instanceof Error && 'code' in err && String(err.code).startsWith('EMP_ERR_CONFIG'), `${format}: ${String(err)}`);
        }
      }
    }
  });

  it('survives random config-like text in every format with a coded error', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = ['[', ']', '{', '}', '<', '>', '/', '=', ':', ';', '#', '"', "'", '\\', '\n', ' ', '-', '%', '(', ')', '$', ',', '&', '!', 'vassal', 'uwsgi', 'command', 'alarm', 'a', '1'];
    for (let round = 0; round < 2000; round++) {
      const text = Array.from({ length: Math.floor(rand() * 80) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      for (const format of ['ini', 'yaml', 'json', 'xml'] as const) {
        try {
          loadVassalConfig({ text, format }, baseOptions);
        } catch (err) {
          assert.ok(err instanceof Error && 'code' in err && String(err.code).startsWith('EMP_ERR_CONFIG'), `${format} ${JSON.stringify(text)}: ${String(err)}`);
        }
      }
    }
  });

  it('refuses an empty file and a file of blanks', () => {
    for (const text of ['', '  \n\n', '\ufeff']) {
      refuses(() => load(text), { code: ErrorCodes.CONFIG_INVALID, file: 'app.ini', message: 'the config is empty: expected a [vassal] section (or [uwsgi] for a uWSGI instance)' });
    }
    refuses(() => load('', 'yaml'), { code: ErrorCodes.CONFIG_INVALID, message: "the config is empty: expected a 'vassal' top-level key (or 'uwsgi' for a uWSGI instance)" });
    refuses(() => load('', 'xml'), { code: ErrorCodes.CONFIG_INVALID, message: 'the config is empty: expected a <vassal> root element (or <uwsgi> for a uWSGI instance)' });
  });

  it('reads a huge value whole', () => {
    const big = 'x'.repeat(2_000_000);
    const c = load(vassal(`env = BIG=${big};#`));
    assert.equal(c.env.BIG, `${big};#`);
  });

  it('reports the fixtures with a typo and without a section clearly', () => {
    refuses(() => loadFile('typo.ini'), { code: ErrorCodes.CONFIG_INVALID, line: 3, key: 'proceses', message: "unknown key 'proceses' (did you mean 'processes'?)" });
    refuses(() => loadFile('no-section.ini'), { code: ErrorCodes.CONFIG_INVALID, message: 'expected a [vassal] section (or [uwsgi] for a uWSGI instance), found [app], [emperor]' });
  });

  it('uses the given origin in errors', () => {
    refuses(() => loadVassalConfig({ text: vassal('processes = x'), format: 'ini' }, { ...baseOptions, origin: 'pg:row-7' }), { code: ErrorCodes.CONFIG_INVALID, file: 'pg:row-7', line: 3 });
  });
});

describe('the result', () => {
  it('is deeply frozen', () => {
    const loaded = loadVassalConfig({ text: fixture('app.ini'), format: 'ini' }, baseOptions);
    assert.equal(loaded.kind, 'vassal');
    const c = loaded.config as Extract<typeof loaded, { kind: 'vassal' }>['config'];
    const frozen = [loaded, c, c.command, c.env, c.ready, c.reload, c.alarms, c.alarms[0], c.logAlarms, c.logAlarms[0], c.logAlarms[0]!.alarms, c.entries, c.entries[0], c.cgroupOpts];
    for (const o of frozen) assert.ok(Object.isFrozen(o));
    assert.throws(() => {
      (c.command as string[]).push('x');
    }, TypeError);
    assert.throws(() => {
      (c.env as Record<string, string>).X = '1';
    }, TypeError);
    const u = loadUwsgi(fixture('uwsgi-app.ini'));
    for (const o of [u, u.raw, u.raw.entries, u.raw.entries[0], u.alarms, u.alarmEventfd]) assert.ok(Object.isFrozen(o));
  });

  it('loads 10,000 vassals quickly', () => {
    const text = fixture('app.ini');
    const start = performance.now();
    for (let i = 0; i < 10_000; i++) loadVassalConfig({ text, format: 'ini', path: `/etc/vassals/app${i}.ini` }, { ...baseOptions, name: `app${i}.ini` });
    const ms = performance.now() - start;
    assert.ok(ms < 20_000, `10,000 loads took ${Math.round(ms)} ms`);
  });
});
