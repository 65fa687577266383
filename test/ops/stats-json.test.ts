/**
 * The stats text (what --stats serves, in pieces, entries kept between requests) is exactly
 * JSON.stringify of the stats document, request after request, as vassals change, come and go.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Emperor } from '../../src/core/emperor.js';
import type { Vassal, WorkerInfo } from '../../src/core/vassal.js';
import { NameOrder } from '../../src/ops/name-order.js';
import { statsDocument, usageSpan, writeStatsJson, type StatsContext } from '../../src/ops/stats.js';
import { EntryTexts } from '../../src/ops/stats-text.js';
import type { TreeFigures, UsageSampler } from '../../src/ops/usage.js';
import type { VassalServices } from '../../src/ops/vassal-services.js';

interface FakeVassal {
  name: string;
  state: string;
  slots: WorkerInfo[];
  restarts: number;
  reloads: number;
  crashLevel: number;
  bornAt: number;
  lastModAt: number;
  readyAt: number | undefined;
  lastExit: unknown;
  configError: string | undefined;
  onDemand: string | undefined;
  plan: unknown;
  alarms: unknown;
  workers(): WorkerInfo[];
  alarmStats(): unknown;
}

function fakeVassal(name: string, pid: number): FakeVassal {
  return {
    name, state: 'running', restarts: 0, reloads: 0, crashLevel: 0, bornAt: 1_000_000, lastModAt: 1_000_000, readyAt: 1_001_000,
    lastExit: undefined, configError: undefined, onDemand: undefined, alarms: undefined,
    plan: { worker: { uid: 1000, gid: 1000 }, spec: { source: '/etc/vassals' }, config: { reload: { mode: 'restart' } } },
    slots: [{ slot: 1, pid, startedAt: 1_000_500, ready: true, exiled: false, restartAt: undefined }],
    workers() { return this.slots.map((s) => ({ ...s })); },
    alarmStats() { return this.alarms; },
  };
}

test('the text is JSON.stringify of the document, with entries kept, as the fleet changes', async () => {
  const vassals = new Map<string, FakeVassal>([['b.ini', fakeVassal('b.ini', 11)], ['a.ini', fakeVassal('a.ini', 12)], ['c.ini', fakeVassal('c.ini', 13)]]);
  const figures = new Map<number, TreeFigures>([[11, { rss: 1000, cpuSeconds: 1.234, at: 2_000_000 }], [12, { rss: 2000, cpuSeconds: 2, at: 2_000_100 }]]);
  const emperor = {
    vassals, invalid: new Map([['bad.ini', { spec: { source: '/etc/vassals' }, error: 'bad "quote"', since: 1_500_000 }]]),
    startedAt: 900_000, opts: { tyrant: false, backoff: { resetMs: 10_000 } },
    monitorIds: () => ['/etc/vassals'], monitorError: () => undefined,
  } as unknown as Emperor;
  const sampler = {
    demand: async () => undefined,
    latest(ws: WorkerInfo[]) {
      const fs = ws.map((w) => (w.pid === undefined ? undefined : figures.get(w.pid)));
      const known = fs.filter((f): f is TreeFigures => f !== undefined);
      const complete = ws.every((w, i) => w.pid === undefined || fs[i] !== undefined);
      return { rss: known.reduce((a, f) => a + f.rss, 0), cpuSeconds: known.reduce((a, f) => a + f.cpuSeconds, 0), figures: fs, oldest: complete && known.length > 0 ? Math.min(...known.map((f) => f.at)) : undefined };
    },
  } as unknown as UsageSampler;
  const none = { state: 'none' };
  const services = { health: (v: Vassal) => (v.state === 'running' ? 'OK' : `Not ready: ${v.state}`), warmup: () => none, monitorServer: () => undefined } as unknown as VassalServices;
  const ctx: StatsContext = { emperor, sampler, services };
  const kept = { texts: new EntryTexts(usageSpan), order: new NameOrder() };
  const check = async (now: number, what: string): Promise<void> => {
    const pieces: string[] = [];
    await writeStatsJson(ctx, kept, (p) => pieces.push(p), now);
    assert.equal(pieces.join(''), JSON.stringify(await statsDocument(ctx, now)), what);
  };

  vassals.get('a.ini')!.readyAt = 2_000_000;
  await check(2_000_500, 'first request');
  await check(2_001_500, 'nothing changed: kept entries, new ages');
  figures.set(13, { rss: 3000, cpuSeconds: 0.5, at: 2_001_600 });
  figures.set(11, { rss: 1500, cpuSeconds: 1.5, at: 2_001_700 });
  await check(2_002_000, 'new figures');
  const b = vassals.get('b.ini')!;
  b.state = 'backoff';
  b.crashLevel = 2;
  b.restarts = 2;
  b.lastExit = { pid: 11, code: 1, signal: null, reason: 'crashed', forced: false, durationMs: 40 };
  b.slots = [{ slot: 1, pid: undefined, startedAt: undefined, ready: false, exiled: false, restartAt: 2_010_000 }];
  await check(2_003_000, 'a crash');
  vassals.get('a.ini')!.alarms = { fired: 3, recent: [{ time: 2_002_500, alarm: 'mem', message: 'high' }] };
  await check(2_004_000, 'alarm statistics');
  vassals.delete('c.ini');
  vassals.set('0.ini', fakeVassal('0.ini', 14));
  await check(2_005_000, 'one gone, one new');
  assert.equal((await statsDocument(ctx, 2_005_000)).vassals.find((v) => v.id === 'a.ini')!.loyal, 0);
  await check(2_020_000, 'a.ini loyal now (ready for --throttle-reset)');
  // A fleet larger than one piece of text.
  for (let i = 0; i < 150; i++) vassals.set(`m${i}.ini`, fakeVassal(`m${i}.ini`, 1000 + i));
  await check(2_021_000, 'many vassals');
  await check(2_022_000, 'many vassals, kept');
  assert.equal((await statsDocument(ctx, 2_020_000)).vassals.find((v) => v.id === 'a.ini')!.loyal, 1);
});
