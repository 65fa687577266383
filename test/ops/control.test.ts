/**
 * The control socket and the subcommands that talk to it, end to end against a running emperor:
 * every command answers (success or a coded error), and the exit codes say which.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, EmperorProcess, FIXTURES, ROOT } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { isAlive, tempDir, waitFor } from '../helpers/wait.js';
import { cli, rawRequest, request, startFleet, type Fleet } from './helpers.js';

const ticker = join(FIXTURES, 'ticker.mjs');
const crasher = join(FIXTURES, 'crasher.mjs');

interface Row {
  name: string;
  state: string;
  pids: number[];
  restarts: number;
  memory: number | null;
  uptime: number | null;
}

describe('the control socket', () => {
  let f: Fleet;

  before(async () => {
    // A long backoff: a crash-looping vassal stays in backoff until unthrottled.
    f = await startFleet(['--throttle', '60000']);
    await writeVassal(f.dir, 'tick.ini', nodeVassal(ticker, 'processes = 2\nready = alive:200'));
    await f.emp.event('tick.ini', 'ready');
  });
  after(() => f.stop());

  test('is a unix socket only its owner may use (mode 0600)', async () => {
    const st = await stat(f.sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
  });

  test('answers every JSON-lines request by id; a refusal carries a code and a message', async () => {
    const answers = await rawRequest(f.sock, [
      { id: 1, cmd: 'ping' },
      { id: 'two', cmd: 'touch', name: 'nope.ini' },
      'this is not json',
      { id: 3 },
      { id: 4, cmd: 'stauts' },
    ]);
    const by = (id: unknown): Record<string, unknown> => answers.find((a) => a.id === id)!;
    assert.deepEqual(by(1), { id: 1, ok: true, result: 'pong' });
    assert.deepEqual(by('two'), { id: 'two', ok: false, error: { code: 'EMP_ERR_CONTROL', message: "no vassal named 'nope.ini'" } });
    assert.match((by(null).error as { message: string }).message, /request is not JSON/);
    assert.match((by(3).error as { message: string }).message, /needs "cmd"/);
    assert.match((by(4).error as { message: string }).message, /unknown command 'stauts' \(did you mean 'status'\?\)/);
  });

  test('emperor status: a table with name, state, pids, uptime, restarts and memory; --json too', async () => {
    const table = await cli(['status', '--control', f.sock]);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /^NAME\s+STATE\s+PIDS\s+UPTIME\s+RESTARTS\s+MEMORY/);
    assert.match(table.out, /\ntick\.ini\s+running\s+\d+,\d+\s+[\d.]+ ?\w+\s+0\s+[\d.]+ (KiB|MiB)/);

    const json = await cli(['status', '--json', '--control', f.sock]);
    assert.equal(json.code, 0, json.err);
    const row = (JSON.parse(json.out) as { rows: Row[] }).rows.find((r) => r.name === 'tick.ini')!;
    assert.equal(row.state, 'running');
    assert.equal(row.pids.length, 2);
    assert.ok(row.memory! > 1024 * 1024, 'memory counts the node processes');
    assert.ok(row.uptime! >= 0);

    const one = await cli(['status', 'tick', '--control', f.sock]);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /tick\.ini\s+running/);
  });

  test('emperor touch reloads the vassal (new pids) and says so', async () => {
    const before = (await request<{ rows: Row[] }>(f.sock, { cmd: 'status' })).rows.find((r) => r.name === 'tick.ini')!.pids;
    const ready = f.emp.nextEvent('tick.ini', 'ready');
    const r = await cli(['touch', 'tick.ini', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'tick.ini: reload queued\n');
    const after = (await ready).pids as number[];
    for (const p of after) assert.ok(!before.includes(p), 'every worker is new');
  });

  test('emperor reload-all reloads every vassal, as SIGHUP does', async () => {
    const before = (await request<{ rows: Row[] }>(f.sock, { cmd: 'status' })).rows.find((r) => r.name === 'tick.ini')!.pids;
    const ready = f.emp.nextEvent('tick.ini', 'ready');
    const r = await cli(['reload-all', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^reloading \d+ vassals?\n$/);
    const after = (await ready).pids as number[];
    for (const p of after) assert.ok(!before.includes(p), 'every worker is new');
  });

  test('emperor unthrottle starts a crash-looping vassal now instead of after its backoff', async () => {
    await writeVassal(f.dir, 'crash.ini', nodeVassal(crasher, 'ready = alive:100'));
    await waitFor(async () => (await request<{ rows: Row[] }>(f.sock, { cmd: 'status' })).rows.find((r) => r.name === 'crash.ini' && r.state === 'backoff'), { what: 'crash.ini in backoff' });
    const again = f.emp.nextLine('crash.ini', /crasher \d+ up/, 10_000);
    const r = await cli(['unthrottle', 'crash', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /crash\.ini: crash history forgotten, restarting now/);
    await again;

    // Without a name: every vassal in backoff.
    await waitFor(async () => (await request<{ rows: Row[] }>(f.sock, { cmd: 'status' })).rows.find((x) => x.name === 'crash.ini' && x.state === 'backoff'), { what: 'crash.ini in backoff again' });
    const third = f.emp.nextLine('crash.ini', /crasher \d+ up/, 10_000);
    const all = await cli(['unthrottle', '--control', f.sock]);
    assert.equal(all.code, 0, all.err);
    assert.equal(all.out, 'restarting now: crash.ini\n');
    await third;

    await writeVassal(f.dir, 'calm.ini', nodeVassal(ticker, 'ready = alive:100'));
    await f.emp.event('calm.ini', 'ready');
    const healthy = await cli(['unthrottle', 'calm.ini', '--control', f.sock]);
    assert.equal(healthy.code, 1);
    assert.match(healthy.err, /vassal 'calm\.ini' is not in crash backoff \(state: running\)/);
  });

  test('emperor logs prints the recent lines; -n keeps the last N', async () => {
    await f.emp.line('tick.ini', /tick 5\b/);
    const r = await cli(['logs', 'tick.ini', '-n', '3', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\S+Z \[\d+\] (tick \d+|ticker .*)$/);
  });

  test('emperor logs -f follows new lines until interrupted, and ends when the vassal stops', async () => {
    await writeVassal(f.dir, 'follow.ini', nodeVassal(ticker, 'env = INTERVAL=50\nready = alive:100'));
    await f.emp.event('follow.ini', 'ready');
    const follow = (): { lines: () => string[]; err: () => string; exited: Promise<number | null>; kill: (s: NodeJS.Signals) => void } => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'logs', 'follow.ini', '-f', '-n', '1', '--control', f.sock], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { lines: () => out.split('\n').filter(Boolean), err: () => err, exited, kill: (s) => child.kill(s) };
    };

    const a = follow();
    await waitFor(() => a.lines().length >= 6, { what: 'followed lines arriving', timeoutMs: 20_000 });
    const ticks = a.lines().map((l) => Number(/tick (\d+)$/.exec(l)?.[1])).filter((n) => !Number.isNaN(n));
    for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i], ticks[i - 1]! + 1, 'in order, none missing');
    a.kill('SIGINT');
    assert.equal(await a.exited, 0);

    const b = follow();
    await waitFor(() => b.lines().length >= 2, { what: 'second follower reading', timeoutMs: 20_000 });
    const r = await cli(['destroy', 'follow', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.equal(await b.exited, 0);
    assert.match(b.err(), /vassal 'follow\.ini' stopped/);
  });

  test('emperor destroy stops a vassal until its config source announces it again', async () => {
    await writeVassal(f.dir, 'gone.ini', nodeVassal(ticker, 'ready = alive:100'));
    const pids = (await f.emp.event('gone.ini', 'ready')).pids as number[];
    const r = await cli(['destroy', 'gone.ini', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /gone\.ini: stopping/);
    await waitFor(async () => !(await Promise.all(pids.map(isAlive))).some(Boolean), { what: 'its workers gone' });
    await waitFor(async () => !(await request<{ rows: Row[] }>(f.sock, { cmd: 'status' })).rows.some((x) => x.name === 'gone.ini'), { what: 'status no longer lists it' });

    const back = f.emp.nextEvent('gone.ini', 'ready');
    const t = new Date(Date.now() + 5000);
    await utimes(join(f.dir, 'gone.ini'), t, t);
    await back;
  });

  test('exit codes: 1 for a refused command, 2 for a usage error, 3 when no emperor answers', async () => {
    const refused = await cli(['touch', 'nope.ini', '--control', f.sock]);
    assert.equal(refused.code, 1);
    assert.equal(refused.err, "emperor: no vassal named 'nope.ini'\n");

    const usage = await cli(['touch', '--control', f.sock]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /missing required argument 'name'/);

    const { dir, cleanup } = await tempDir();
    try {
      const missing = await cli(['status', '--control', join(dir, 'none.sock')]);
      assert.equal(missing.code, 3);
      assert.match(missing.err, /no emperor answers on .*none\.sock \(no such socket: is the emperor running, with this --control path\?\)/);
    } finally {
      await cleanup();
    }
  });
});

describe('the control socket path', () => {
  test('a second emperor on a path held by a running one is refused; a stale socket file is replaced', async () => {
    const f = await startFleet();
    try {
      const second = new EmperorProcess([f.dir, '--control', f.sock]);
      const exit = await second.exited;
      assert.equal(exit.code, 2);
      assert.match(second.stderr.join(''), /--control .*control\.sock: another process \(an emperor already running\?\) listens there/);
    } finally {
      await f.stop();
    }

    const { dir, cleanup } = await tempDir();
    const sock = join(dir, 'stale.sock');
    // A socket file whose process died without removing it.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => holder.stdout.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    assert.ok((await stat(sock)).isSocket());
    const emp = new EmperorProcess([dir, '--control', sock]);
    try {
      await emp.event(undefined, 'control-listening');
      assert.deepEqual(await request(sock, { cmd: 'ping' }), 'pong');
    } finally {
      await emp.stop();
      await cleanup();
    }
  });
});
