/** The small formats of ops: addresses, InfluxDB lines, alarm summaries, JSON lines. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarizeAlarms } from '../../src/ops/alarm-summary.js';
import { JsonLines } from '../../src/ops/control-protocol.js';
import { defaultControlPath } from '../../src/ops/control-path.js';
import { influxLines } from '../../src/ops/influx.js';
import { parseListenAddress } from '../../src/ops/listen.js';
import { monitorAddress } from '../../src/ops/monitor-address.js';
import type { PerfMetrics } from '../../src/ops/perf-metrics.js';

test('--stats addresses: HOST:PORT and :PORT are TCP, anything with a / is a unix socket', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9191', '--stats'), { kind: 'tcp', host: '127.0.0.1', port: 9191 });
  assert.deepEqual(parseListenAddress(':9191', '--stats'), { kind: 'tcp', host: undefined, port: 9191 });
  assert.deepEqual(parseListenAddress('[::1]:9191', '--stats'), { kind: 'tcp', host: '::1', port: 9191 });
  assert.deepEqual(parseListenAddress('/run/emperor/stats.sock', '--stats'), { kind: 'unix', path: '/run/emperor/stats.sock' });
  assert.throws(() => parseListenAddress('host:99999', '--stats'), /--stats expects HOST:PORT, :PORT or a unix socket path, got 'host:99999'/);
});

test('monitor address: monitor = HOST:PORT, or port + monitor-offset on every interface', () => {
  assert.deepEqual(monitorAddress({ monitor: '127.0.0.1:8160' }), { address: { host: '127.0.0.1', port: 8160 } });
  assert.deepEqual(monitorAddress({ monitor: ':8160' }), { address: { host: undefined, port: 8160 } });
  assert.deepEqual(monitorAddress({ port: 8080, monitorOffset: 80 }), { address: { host: undefined, port: 8160 } });
  assert.deepEqual(monitorAddress({ monitor: '[::1]:8160', port: 8080, monitorOffset: 80 }), { address: { host: '::1', port: 8160 } });
  assert.deepEqual(monitorAddress({}), { none: true });
  assert.match((monitorAddress({ monitorOffset: 80 }) as { error: string }).error, /monitor-offset needs the port key/);
  assert.match((monitorAddress({ port: 65500, monitorOffset: 80 }) as { error: string }).error, /above 65535/);
});

test('InfluxDB line protocol escapes tags and strings, and types integers', () => {
  const m: PerfMetrics = {
    instance: { name: 'my app,v=2.ini', state: 'run "now"', uptime: 39, pids: [1], workers: 1 },
    memory: { rss: 312422400, uss: 298905600, pss: 310822823, cgroup: 4096 },
    restarts: 2,
    reloads: 1,
    alarms: { fired: 3 },
  };
  assert.equal(
    influxLines([m], { host: 'web 1', timestampNs: 1700000000000000000n }),
    'emperor_vassal,host=web\\ 1,vassal=my\\ app\\,v\\=2.ini state="run \\"now\\"",instance_uptime=39i,instance_workers=1i,memory_rss=312422400i,memory_uss=298905600i,memory_pss=310822823i,memory_cgroup=4096i,restarts=2i,reloads=1i,alarms_fired=3i 1700000000000000000\n',
  );
  assert.equal(influxLines([], { host: 'h', timestampNs: 1n }), '');
});

test('alarm summaries read a total and the recent firings from the subsystem\'s stats', () => {
  assert.deepEqual(summarizeAlarms(undefined), { fired: 0, recent: [] });
  assert.deepEqual(summarizeAlarms({ fired: 4, recent: [{ time: 2, alarm: 'mem', message: 'high' }, { time: 1, name: 'log', msg: 'x' }] }), {
    fired: 4,
    recent: [{ time: 1, alarm: 'log', message: 'x' }, { time: 2, alarm: 'mem', message: 'high' }],
  });
  assert.equal(summarizeAlarms({ alarms: [{ name: 'a', fired: 2 }, { name: 'b', fired: 3 }] }).fired, 5);
  assert.equal(summarizeAlarms({ alarms: { a: { fired: 1 }, b: { fired: 1 } } }).fired, 2);
  assert.equal(summarizeAlarms({ fired: -1 }).fired, 0);
  // The alarm subsystem's own shape: counts per alarm, the latest firings oldest first.
  const subsystem = {
    fired: { mem: 2, crash: 1 },
    suppressed: { mem: 5, crash: 0 },
    failed: { mem: 0, crash: 0 },
    alarms: { mem: { action: 'log', fired: 2, suppressed: 5, failed: 0 }, crash: { action: 'cmd', fired: 1, suppressed: 0, failed: 0 } },
    recent: [{ time: 10, alarm: 'mem', message: 'a' }, { time: 20, alarm: 'crash', message: 'b' }],
  };
  assert.deepEqual(summarizeAlarms(subsystem), { fired: 3, recent: subsystem.recent });
});

test('JSON lines: split across chunks, several in one chunk, overflow reported', () => {
  const got: string[] = [];
  let over = 0;
  const j = new JsonLines((l) => got.push(l), 10, () => over++);
  j.push('{"a"');
  j.push(':1}\n{"b":2}\n\n{"c"');
  j.push(':3}\n');
  assert.deepEqual(got, ['{"a":1}', '{"b":2}', '{"c":3}']);
  j.push('x'.repeat(11));
  assert.equal(over, 1);
});

test('the default control socket: /run/emperor as root, the runtime directory or /tmp otherwise', () => {
  const p = defaultControlPath({ XDG_RUNTIME_DIR: '/run/user/1000' });
  if (process.getuid?.() === 0) assert.equal(p, '/run/emperor/control.sock');
  else assert.equal(p, '/run/user/1000/emperor/control.sock');
  if (process.getuid?.() !== 0) assert.equal(defaultControlPath({}), `/tmp/emperor-${process.getuid!()}/control.sock`);
});
