/** The frames of `emperor top`: CPU % from two samples, sorting, recent alarms, fitting the terminal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTop, withCpu } from '../../src/cli/top-view.js';
import type { StatusResult, StatusRow } from '../../src/ops/status.js';

const row = (name: string, over: Partial<StatusRow> = {}): StatusRow => ({
  name, state: 'running', pids: [100], uptime: 60, restarts: 0, reloads: 0, memory: 50 << 20, cpu: 10, alarms: 0, recentAlarms: [], health: 'OK', note: '', ...over,
});

test('CPU % is the CPU time used between two samples over the time between them', () => {
  const prev: StatusResult = { time: 1000, rows: [row('a', { cpu: 10 }), row('b', { cpu: 5 }), row('c', { cpu: 9 })] };
  const cur: StatusResult = { time: 3000, rows: [row('a', { cpu: 11 }), row('b', { cpu: 1 }), row('c', { cpu: 9, pids: [], memory: null, state: 'backoff' }), row('d')] };
  const rows = withCpu(prev, cur);
  assert.equal(rows.find((r) => r.name === 'a')!.cpuPercent, 50);
  assert.equal(rows.find((r) => r.name === 'b')!.cpuPercent, null, 'restarted: counters went down');
  assert.equal(rows.find((r) => r.name === 'c')!.cpuPercent, null, 'nothing running');
  assert.equal(rows.find((r) => r.name === 'd')!.cpuPercent, null, 'new: no earlier sample');
  assert.equal(withCpu(undefined, cur)[0]!.cpuPercent, null);
});

test('CPU % is over the time between the readings of the figures, when the emperor says when they were read', () => {
  const prev: StatusResult = { time: 1000, rows: [row('a', { cpu: 10, sampledAt: 500 }), row('b', { cpu: 1, sampledAt: null })] };
  const cur: StatusResult = { time: 3000, rows: [row('a', { cpu: 11, sampledAt: 1500 }), row('b', { cpu: 2, sampledAt: 1500 })] };
  const rows = withCpu(prev, cur);
  assert.equal(rows.find((r) => r.name === 'a')!.cpuPercent, 100, '1 s of CPU over the 1 s between the readings');
  assert.equal(rows.find((r) => r.name === 'b')!.cpuPercent, null, 'not measured the first time');
});

test('a frame: summary, rows in the chosen order, the latest alarms, cut to the terminal', () => {
  const rows = withCpu({ time: 0, rows: [row('a', { cpu: 0 }), row('b', { cpu: 0 })] }, {
    time: 1000,
    rows: [
      row('a', { cpu: 0.1, memory: 10 << 20 }),
      row('b', { cpu: 0.5, memory: 5 << 20, restarts: 3, alarms: 2, recentAlarms: [{ time: Date.UTC(2024, 0, 1, 12), alarm: 'mem', message: 'memory\nhigh' }] }),
    ],
  });
  const frame = renderTop(rows, { width: 100, height: 40, sort: 'cpu', time: Date.now(), keys: true });
  assert.match(frame[0]!, /^emperor top {2}\d\d:\d\d:\d\d {2}2 vassals: 2 running$/);
  assert.match(frame[1]!, /^CPU 60\.0% {2}MEM 15 MiB {2}restarts 3 {2}alarms 2$/);
  const header = frame.findIndex((l) => l.startsWith('NAME'));
  assert.match(frame[header + 1]!, /^b\s+running\s+100\s+50\.0\s+5\.0 MiB\s+1m0s\s+3\s+2$/);
  assert.match(frame[header + 2]!, /^a\s+running\s+100\s+10\.0\s+10 MiB/);
  assert.ok(frame.includes('Recent alarms:'));
  assert.ok(frame.some((l) => /^ {2}\d\d:\d\d:\d\d {2}b {2}mem: memory high$/.test(l)));
  assert.match(frame.at(-1)!, /q quit .*\(now: cpu\)$/);

  const many = withCpu(undefined, { time: 0, rows: Array.from({ length: 50 }, (_, i) => row(`v${String(i).padStart(2, '0')}-with-a-rather-long-name`)) });
  const small = renderTop(many, { width: 40, height: 12, sort: 'name', time: 0, keys: true });
  assert.ok(small.length <= 12, `fits 12 rows: ${small.length}`);
  assert.ok(small.every((l) => l.length <= 40), 'fits 40 columns');
  assert.ok(small.some((l) => /^… \d+ more/.test(l)));
});
