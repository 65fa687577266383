/**
 * --stats and --stats-http against a running emperor: the JSON document (uWSGI's field names and
 * ours, always valid JSON) over raw TCP, a unix socket and HTTP, and /metrics in the Prometheus
 * text format.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURES } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { freePort, waitFor } from '../helpers/wait.js';
import { startFleet, type Fleet } from './helpers.js';

const ticker = join(FIXTURES, 'ticker.mjs');
const crasher = join(FIXTURES, 'crasher.mjs');

interface Doc {
  version: string;
  pid: number;
  emperor: string[];
  emperor_tyrant: number;
  usage_age_ms: number | null;
  vassals: Array<Record<string, unknown> & { id: string; workers: Array<{ id: number; pid: number; rss: number; ready: number }> }>;
  blacklist: Array<{ id: string; throttle_level: number; attempt: number; next_attempt: number }>;
  invalid: Array<{ id: string; error: string }>;
  monitors: Array<{ id: string; error: string | null }>;
}

/** Everything a stats connection sends before the server closes it. */
function readAll(opts: { port: number } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = 'port' in opts ? connect({ port: opts.port, host: '127.0.0.1' }) : connect({ path: opts.path });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
  });
}

function http(target: { port: number } | { socketPath: string }, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...('port' in target ? { host: '127.0.0.1', port: target.port } : { socketPath: target.socketPath }), path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Prometheus text: every sample as {name, labels, value}, and the declared types. */
function parseProm(text: string): { samples: Array<{ name: string; labels: Record<string, string>; value: number }>; types: Map<string, string> } {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a valid sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

async function populate(f: Fleet): Promise<void> {
  await writeVassal(f.dir, 'a.ini', nodeVassal(ticker, 'processes = 2\nready = alive:200'));
  await writeVassal(f.dir, 'crash.ini', nodeVassal(crasher, 'ready = alive:100'));
  await writeVassal(f.dir, 'bad.ini', '[vassal]\nprocesses = 2\n');
  await f.emp.event('a.ini', 'ready');
  await f.emp.event('bad.ini', 'config-error');
}

function checkDocument(doc: Doc, f: Fleet): void {
  assert.equal(doc.pid, f.emp.pid);
  assert.deepEqual(doc.emperor, [f.dir]);
  assert.equal(doc.emperor_tyrant, 0);
  assert.match(doc.version, /^\d+\.\d+\.\d+/);

  const a = doc.vassals.find((v) => v.id === 'a.ini')!;
  assert.ok(a, 'a.ini listed');
  for (const field of ['id', 'pid', 'born', 'last_mod', 'loyal', 'ready', 'accepting', 'respawns', 'uid', 'gid', 'monitor', 'on_demand', 'cursed', 'state', 'workers', 'restarts', 'backoff', 'last_exit', 'alarms']) {
    assert.ok(field in a, `vassal field ${field}`);
  }
  assert.equal(a.state, 'running');
  assert.equal(a.ready, 1);
  assert.equal(a.accepting, 1);
  assert.equal(a.cursed, 0);
  assert.equal(a.monitor, f.dir);
  assert.equal(a.on_demand, '');
  assert.equal(a.uid, process.getuid!());
  assert.equal(a.health, 'OK');
  assert.ok(Math.abs((a.born as number) - Date.now() / 1000) < 120);
  assert.equal(a.workers.length, 2);
  for (const w of a.workers) {
    assert.ok(w.pid > 0);
    assert.ok(w.rss > 1024 * 1024, 'rss of a node worker');
    assert.equal(w.ready, 1);
  }
  assert.equal(a.pid, a.workers[0]!.pid);
  // Memory and CPU come from the background sampler, with their age.
  assert.ok(typeof a.usage_age_ms === 'number' && a.usage_age_ms >= 0 && a.usage_age_ms < 60_000, `usage_age_ms ${a.usage_age_ms}`);
  assert.ok(typeof doc.usage_age_ms === 'number' && doc.usage_age_ms >= (a.usage_age_ms as number), 'the document says how old its oldest figure is');
  assert.equal(a.rss, a.workers.reduce((sum, w) => sum + w.rss, 0));
  assert.deepEqual(a.alarms, { fired: 0, recent: [], stats: null });

  const crash = doc.vassals.find((v) => v.id === 'crash.ini')!;
  assert.ok((crash.respawns as number) >= 1);
  assert.equal(crash.respawns, crash.restarts);
  assert.equal((crash.last_exit as { code: number }).code, 1);
  const bl = doc.blacklist.find((b) => b.id === 'crash.ini');
  assert.ok(bl, 'a crash-looping vassal is in the blacklist');
  assert.ok(bl.attempt >= 2);
  assert.ok(bl.throttle_level > 0);
  assert.equal(crash.state, 'backoff');
  assert.match(crash.health as string, /^Not ready: backoff/);

  const bad = doc.invalid.find((i) => i.id === 'bad.ini');
  assert.ok(bad, 'a rejected config is listed as invalid');
  assert.match(bad.error, /command/);
  assert.deepEqual(doc.monitors, [{ id: f.dir, error: null }]);
}

describe('--stats HOST:PORT (raw: one JSON document per connection)', () => {
  let f: Fleet;
  let port: number;
  before(async () => {
    port = await freePort();
    f = await startFleet(['--stats', `127.0.0.1:${port}`, '--throttle', '60000']);
    await populate(f);
  });
  after(() => f.stop());

  test('each connection gets one valid JSON document with uWSGI\'s fields and ours, then is closed', async () => {
    const doc = await waitFor(async () => {
      const d = JSON.parse(await readAll({ port })) as Doc;
      const measured = typeof d.vassals.find((v) => v.id === 'a.ini')?.usage_age_ms === 'number';
      return d.blacklist.some((b) => b.id === 'crash.ini' && b.attempt >= 2) && measured ? d : undefined;
    }, { what: 'crash.ini blacklisted and a.ini measured in stats' });
    checkDocument(doc, f);
  });
});

describe('--stats PATH (a unix socket)', () => {
  let f: Fleet;
  before(async () => {
    f = await startFleet((dir) => ['--stats', join(dir, 'stats.sock'), '--throttle', '60000']);
    await populate(f);
  });
  after(() => f.stop());

  test('serves the same document on a unix socket', async () => {
    const path = join(f.dir, 'stats.sock');
    const doc = await waitFor(async () => {
      const d = JSON.parse(await readAll({ path })) as Doc;
      const measured = typeof d.vassals.find((v) => v.id === 'a.ini')?.usage_age_ms === 'number';
      return d.blacklist.some((b) => b.id === 'crash.ini' && b.attempt >= 2) && measured ? d : undefined;
    }, { what: 'crash.ini blacklisted and a.ini measured in stats' });
    checkDocument(doc, f);
  });
});

describe('--stats-http', () => {
  let f: Fleet;
  let port: number;
  before(async () => {
    port = await freePort();
    f = await startFleet(['--stats', `127.0.0.1:${port}`, '--stats-http', '--throttle', '60000']);
    await populate(f);
  });
  after(() => f.stop());

  test('GET / and GET /stats answer the JSON document', async () => {
    await waitFor(async () => {
      const d = JSON.parse((await http({ port }, '/stats')).body) as Doc;
      return d.blacklist.some((b) => b.id === 'crash.ini' && b.attempt >= 2) && typeof d.vassals.find((v) => v.id === 'a.ini')?.usage_age_ms === 'number';
    }, { what: 'crash.ini blacklisted and a.ini measured' });
    for (const path of ['/', '/stats']) {
      const r = await http({ port }, path);
      assert.equal(r.status, 200);
      assert.match(r.type, /^application\/json/);
      checkDocument(JSON.parse(r.body) as Doc, f);
    }
  });

  test('GET /metrics answers the Prometheus text format, one series per vassal', async () => {
    const r = await http({ port }, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseProm(r.body);
    const one = (name: string, labels: Record<string, string>): number => {
      const s = samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
      assert.equal(s.length, 1, `one sample ${name}${JSON.stringify(labels)}`);
      return s[0]!.value;
    };
    assert.equal(types.get('emperor_vassal_restarts_total'), 'counter');
    assert.equal(types.get('emperor_vassal_up'), 'gauge');
    assert.equal(one('emperor_vassal_restarts_total', { vassal: 'a.ini' }), 0);
    assert.ok(one('emperor_vassal_restarts_total', { vassal: 'crash.ini' }) >= 1);
    assert.equal(one('emperor_vassal_up', { vassal: 'a.ini' }), 1);
    assert.equal(one('emperor_vassal_up', { vassal: 'crash.ini' }), 0);
    assert.equal(one('emperor_vassal_workers', { vassal: 'a.ini' }), 2);
    assert.ok(one('emperor_vassal_resident_memory_bytes', { vassal: 'a.ini' }) > 1024 * 1024);
    assert.equal(one('emperor_vassal_state', { vassal: 'a.ini', state: 'running' }), 1);
    assert.equal(one('emperor_vassal_state', { vassal: 'a.ini', state: 'backoff' }), 0);
    assert.equal(one('emperor_vassal_state', { vassal: 'bad.ini', state: 'invalid' }), 1);
    assert.equal(one('emperor_vassals', { state: 'running' }), 1);
    assert.equal(one('emperor_vassals', { state: 'invalid' }), 1);
    assert.equal(one('emperor_monitor_up', { monitor: f.dir }), 1);
    assert.equal(one('emperor_vassal_alarms_fired_total', { vassal: 'a.ini' }), 0);
  });

  test('other paths are 404, other methods 405', async () => {
    assert.equal((await http({ port }, '/nope')).status, 404);
    assert.equal((await http({ port }, '/', 'POST')).status, 405);
  });
});
