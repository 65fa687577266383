/** Stats entries as text: reused while nothing of the vassal changed, only their figures and age written anew. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vassal, WorkerInfo } from '../../src/core/vassal.js';
import type { VassalInputs, VassalStats } from '../../src/ops/stats.js';
import { EntryTexts, type UsageSpan } from '../../src/ops/stats-text.js';

const plan = { spec: { source: '/etc/vassals' }, worker: {} };
const vassal: { state: string } & Record<string, unknown> = { name: 'a.ini', state: 'running', restarts: 0, reloads: 0, crashLevel: 0, lastModAt: 1000, readyAt: 2000, lastExit: undefined, configError: undefined, plan, onDemand: undefined };
const noWarmup = { state: 'none' } as const;
const slot: WorkerInfo = { slot: 1, pid: 42, startedAt: 1500, ready: true, exiled: false, restartAt: undefined };

function inputs(over: { at?: number; rss?: number; state?: string; alarms?: unknown } = {}): VassalInputs {
  vassal.state = over.state ?? 'running';
  const v = vassal as unknown as Vassal;
  const at = over.at ?? 5000;
  return {
    vassal: v,
    slots: [slot],
    usage: { rss: over.rss ?? 100, cpuSeconds: 1, figures: [{ rss: over.rss ?? 100, cpuSeconds: 1, at }], oldest: at },
    health: 'OK',
    loyal: true,
    alarms: over.alarms,
    warmup: noWarmup,
    monitorServer: undefined,
  };
}

/** A stand-in entry: what matters is when it is built, and that its figures and age are spliced right. */
function entry(inp: VassalInputs, now: number): VassalStats {
  return {
    id: 'a.ini',
    name: 'x"workers":[],"usage_age_ms":1,',
    state: inp.vassal.state,
    workers: inp.usage.figures.map((f) => ({ rss: f?.rss })),
    rss: inp.usage.rss,
    cpu: 1,
    usage_age_ms: now - inp.usage.oldest!,
    restarts: 0,
  } as unknown as VassalStats;
}

/** The stand-in's span, written as the entry would be. */
const span: UsageSpan = (inp) => `${JSON.stringify(inp.usage.figures.map((f) => ({ rss: f?.rss })))},"rss":${inp.usage.rss},"cpu":1,"usage_age_ms":`;

test('an unchanged entry is reused with its new figures and age; a change builds it again', () => {
  const texts = new EntryTexts(span);
  let builds = 0;
  const text = (inp: VassalInputs, now: number): string => texts.text(inp, now, () => (builds++, entry(inp, now))).value;

  assert.equal(text(inputs(), 6000), JSON.stringify(entry(inputs(), 6000)));
  assert.equal(builds, 1);
  const again = text(inputs(), 7500);
  assert.equal(builds, 1, 'nothing changed: reused');
  assert.equal(again, JSON.stringify(entry(inputs(), 7500)), 'with the age at this request');
  assert.equal(JSON.parse(again).usage_age_ms, 2500);

  const figures = text(inputs({ rss: 200, at: 7000 }), 7500);
  assert.equal(builds, 1, 'new figures alone: reused');
  assert.equal(figures, JSON.stringify(entry(inputs({ rss: 200, at: 7000 }), 7500)), 'with the new figures and their age');
  text(inputs({ rss: 200, state: 'reloading' }), 7500);
  assert.equal(builds, 2, 'a new state');
  text(inputs({ rss: 200, state: 'reloading', alarms: { fired: 1 } }), 7500);
  text(inputs({ rss: 200, state: 'reloading', alarms: { fired: 1 } }), 7500);
  assert.equal(builds, 4, 'alarm statistics are never taken from before');
});
