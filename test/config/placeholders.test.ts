import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { createExpander, fileVars, MAX_DEPTH, PlaceholderError } from '../../src/config/placeholders.js';
import { load, loadUwsgi, refuses, vassal } from './helpers.js';

const envOf = (config: { env: Readonly<Record<string, string>> }) => config.env;

describe('file placeholders', () => {
  it('expands %n %s %d %p %e %h from the config file, %d with a trailing slash', () => {
    const c = load(vassal('env = N=%n', 'env = S=%s', 'env = D=%d', 'env = P=%p', 'env = E=%e', 'env = H=%h'), 'ini', {
      name: 'shop.prod.ini',
      path: '/etc/vassals/shop.prod.ini',
    });
    assert.deepEqual(envOf(c), { N: 'shop.prod', S: 'shop.prod.ini', D: '/etc/vassals/', P: '/etc/vassals/shop.prod.ini', E: 'ini', H: 'web1' });
  });

  it('uses the base name of a glob vassal, whose name is its full path', () => {
    const c = load(vassal('env = N=%n', 'env = D=%d'), 'ini', { name: '/opt/apps/app1/app1.ini', path: '/opt/apps/app1/app1.ini' });
    assert.deepEqual(envOf(c), { N: 'app1', D: '/opt/apps/app1/' });
  });

  it("makes a relative path absolute against the emperor's cwd", () => {
    const c = load(vassal('env = P=%p', 'env = D=%d'), 'ini', { path: 'vassals/app.ini', cwd: '/srv' });
    assert.deepEqual(envOf(c), { P: '/srv/vassals/app.ini', D: '/srv/vassals/' });
  });

  it("gives a config without a file the emperor's cwd as %d and its name as %p", () => {
    const c = load(vassal('env = N=%n', 'env = P=%p', 'env = D=%d', 'env = E=%e'), 'ini', { name: 'row42.ini', cwd: '/var/lib/emperor' });
    assert.deepEqual(envOf(c), { N: 'row42', P: 'row42.ini', D: '/var/lib/emperor/', E: 'ini' });
  });

  it('computes the letters for odd names', () => {
    assert.deepEqual(fileVars({ name: 'noext', hostname: 'h', cwd: '/' }), { n: 'noext', s: 'noext', d: '/', p: 'noext', e: '', h: 'h' });
    assert.equal(fileVars({ name: 'x', path: '/app.ini', hostname: 'h', cwd: '/' }).d, '/');
  });
});

describe('%(key), $(VAR) and %%', () => {
  it("expands another key's value, recursively", () => {
    const c = load(vassal('port = 3031', 'set-placeholder = base=/srv/%n', 'chdir = %(base)/current', 'env = URL=http://%h:%(port)/'));
    assert.equal(c.chdir, '/srv/app/current');
    assert.deepEqual(envOf(c), { URL: 'http://web1:3031/' });
  });

  it('reaches keys through their aliases, and a repeated key by its last value', () => {
    const c = load(vassal('alarm = a log:x', 'alarm-log = a ^E', 'env = X=%(log-alarm)', 'env = Z=1', 'logto = /%(env)', 'set-ph = p=1', 'chdir = /%(set-ph)'), 'ini');
    assert.equal(c.env.X, 'a ^E');
    assert.equal(c.logto, '/Z=1');
    assert.equal(c.chdir, '/p=1');
    refuses(() => load(vassal('env = A=%(env)')), { code: ErrorCodes.CONFIG_INVALID, key: 'env', message: 'env: placeholder cycle: %(env) -> %(env)' });
  });

  it('expands $(VAR) from the environment, and an unset one to nothing as uWSGI does', () => {
    const c = load(vassal('env = A=$(HOME)/x', 'env = B=[$(NOPE)]'), 'ini', { env: { HOME: '/root' } });
    assert.deepEqual(envOf(c), { A: '/root/x', B: '[]' });
  });

  it('writes %% as % and leaves unknown %x as written', () => {
    const c = load(vassal('warmup = http://127.0.0.1/a%20b?p=100%%', 'env = A=%z %c %%n 50%'));
    assert.equal(c.warmup, 'http://127.0.0.1/a%20b?p=100%');
    assert.equal(c.env.A, '%z %c %n 50%');
  });

  it('leaves $( that is no variable name alone', () => {
    const c = load(vassal('env = A=$(echo hi) $ $( x'));
    assert.equal(c.env.A, '$(echo hi) $ $( x');
  });

  it('refuses an unknown %(name), naming the key and line', () => {
    refuses(() => load(vassal('chdir = %(nope)/x'), 'ini', { path: '/v/app.ini' }), {
      code: ErrorCodes.CONFIG_INVALID,
      file: '/v/app.ini',
      line: 3,
      key: 'chdir',
      message: 'chdir: %(nope) names no key, set-placeholder or value the emperor computes',
    });
  });

  it('refuses cycles with the path of the cycle', () => {
    refuses(() => load(vassal('set-ph = a=%(b)', 'set-ph = b=%(c)', 'set-ph = c=%(a)', 'logto = %(a)')), {
      code: ErrorCodes.CONFIG_INVALID,
      message: /placeholder cycle: %\((a|b|c)\) -> %\(\w\) -> %\(\w\) -> %\(\1\)/,
    });
  });

  it('refuses nesting deeper than the limit', () => {
    const defs = Array.from({ length: MAX_DEPTH + 2 }, (_, i) => `set-ph = p${i}=%(p${i + 1})`);
    defs.push(`set-ph = p${MAX_DEPTH + 2}=end`);
    refuses(() => load(vassal(...defs, 'logto = %(p0)')), { code: ErrorCodes.CONFIG_INVALID, key: 'set-placeholder', line: 3, message: /nested deeper than 32/ });
    const ok = Array.from({ length: 10 }, (_, i) => `set-ph = q${i}=%(q${i + 1})`);
    assert.equal(load(vassal(...ok, 'set-ph = q10=end', 'logto = %(q0)')).logto, 'end');
  });

  it('refuses an unclosed %( and a bad name', () => {
    refuses(() => load(vassal('logto = /x/%(port')), { code: ErrorCodes.CONFIG_INVALID, key: 'logto', message: /unclosed '%\('/ });
    refuses(() => load(vassal('logto = /x/%(a b)')), { code: ErrorCodes.CONFIG_INVALID, key: 'logto', message: /is not a placeholder name/ });
  });

  it('lets a computed value win over the written one, and feeds a computing function the written value', () => {
    const fixed = load(vassal('cgroup = app-%n', 'alarm = mem log:high', 'alarm-eventfd = mem %(cgroup)/cgroup.event_control %(cgroup)/memory.usage_in_bytes 1'), 'ini', {
      computed: { cgroup: (v) => (v === undefined ? undefined : `/sys/fs/cgroup/memory/emperor/${v}`) },
    });
    assert.equal(fixed.cgroup, 'app-app');
    assert.deepEqual(fixed.alarmEventfd, ['mem /sys/fs/cgroup/memory/emperor/app-app/cgroup.event_control /sys/fs/cgroup/memory/emperor/app-app/memory.usage_in_bytes 1']);
    const plain = load(vassal('env = C=%(vassal-id)'), 'ini', { computed: { 'vassal-id': '42' } });
    assert.equal(plain.env.C, '42');
  });

  it('expands once per name and stays linear on long values', () => {
    let calls = 0;
    const expand = createExpander({
      vars: fileVars({ name: 'a.ini', hostname: 'h', cwd: '/' }),
      env: {},
      computed: {},
      named: (name) => {
        calls++;
        return name === 'big' ? 'x'.repeat(1000) : undefined;
      },
    });
    const value = '%(big)'.repeat(10_000) + '%n'.repeat(100_000);
    const start = performance.now();
    const out = expand(value);
    assert.equal(out.length, 10_000_000 + 100_000);
    assert.equal(calls, 1);
    assert.ok(performance.now() - start < 2000);
    assert.throws(() => expand('%(missing)'), PlaceholderError);
  });
});

describe('placeholders in [uwsgi] configs', () => {
  it('expands only what the emperor runs: alarm-eventfd, its alarms and the cgroup', () => {
    const c = loadUwsgi('[uwsgi]\nmodule = %(nothing)\ncgroup = /sys/fs/cgroup/memory/%n\nalarm = mem log:%n high\nalarm = other mule:1\nalarm-eventfd = mem %(cgroup)/cgroup.event_control %(cgroup)/memory.oom_control\n');
    assert.equal(c.cgroup, '/sys/fs/cgroup/memory/app');
    assert.deepEqual(c.alarmEventfd, ['mem /sys/fs/cgroup/memory/app/cgroup.event_control /sys/fs/cgroup/memory/app/memory.oom_control']);
    assert.deepEqual(c.alarms, [{ name: 'mem', action: 'log', args: 'app high', line: 4 }]);
    assert.equal(c.raw.entries[0]!.value, '%(nothing)', 'the raw entries stay as written, for uWSGI to read');
  });
});
