/** `emperor metrics`: Prometheus text, InfluxDB line protocol for Telegraf, and JSON. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURES } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { cli, startFleet, type Fleet } from '../ops/helpers.js';

describe('emperor metrics', () => {
  let f: Fleet;
  before(async () => {
    f = await startFleet();
    await writeVassal(f.dir, 'a.ini', nodeVassal(join(FIXTURES, 'ticker.mjs'), 'processes = 2\nready = alive:100'));
    await writeVassal(f.dir, 'b c.ini', nodeVassal(join(FIXTURES, 'ticker.mjs'), 'ready = alive:100'));
    await f.emp.event('a.ini', 'ready');
    await f.emp.event('b c.ini', 'ready');
  });
  after(() => f.stop());

  test('--influx: one line per vassal, measurement emperor_vassal, host and vassal tags, integer fields, a ns timestamp', async () => {
    const r = await cli(['metrics', '--influx', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const parsed = lines.map((l) => {
      const m = /^emperor_vassal,host=(\S+?),vassal=((?:\\.|[^,= \\])+) (\S+) (\d+)$/.exec(l);
      assert.ok(m, `line protocol: ${l}`);
      const fields = Object.fromEntries(m[3]!.split(',').map((kv) => kv.split('=') as [string, string]));
      return { vassal: m[2]!.replace(/\\(.)/g, '$1'), fields, ts: BigInt(m[4]!) };
    });
    const a = parsed.find((p) => p.vassal === 'a.ini')!;
    assert.ok(a, 'a.ini');
    assert.ok(parsed.some((p) => p.vassal === 'b c.ini'), 'a space in a tag value is escaped');
    assert.equal(a.fields.state, '"running"');
    assert.equal(a.fields.instance_workers, '2i');
    for (const k of ['instance_uptime', 'memory_rss', 'memory_uss', 'memory_pss', 'restarts', 'reloads', 'alarms_fired']) assert.match(a.fields[k] ?? '', /^\d+i$/, k);
    assert.ok(Number(a.fields.memory_rss!.slice(0, -1)) > 10 * 1024 * 1024);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    assert.ok(nowNs - a.ts < 60_000_000_000n && a.ts <= nowNs, 'timestamp in ns, now');
  });

  test('default: the Prometheus text format, as GET /metrics', async () => {
    const r = await cli(['metrics', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^# HELP emperor_info /m);
    assert.match(r.out, /^emperor_vassal_up\{vassal="a\.ini"\} 1$/m);
    assert.match(r.out, /^emperor_vassal_restarts_total\{vassal="b c\.ini"\} 0$/m);
  });

  test('--json: the perf_metrics document of every vassal', async () => {
    const r = await cli(['metrics', '--json', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out) as { host: string; vassals: Array<{ instance: { name: string }; memory: { rss: number } }> };
    assert.deepEqual(doc.vassals.map((v) => v.instance.name), ['a.ini', 'b c.ini']);
    assert.ok(doc.vassals[0]!.memory.rss > 0);
  });

  test('--influx and --json together is a usage error', async () => {
    const r = await cli(['metrics', '--influx', '--json', '--control', f.sock]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot be used with/);
  });
});
