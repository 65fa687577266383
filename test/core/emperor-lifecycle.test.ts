import assert from 'node:assert/strict';
import { readFile, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmperorProcess, FIXTURES } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { canConnect, freePort, isAlive, tempDir, waitFor } from '../helpers/wait.js';

const ticker = join(FIXTURES, 'ticker.mjs');
const echo = join(FIXTURES, 'echo-server.mjs');

describe('a directory of vassals', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let emp: EmperorProcess;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    emp = new EmperorProcess([dir, '--throttle', '200', '--freq', '1']);
    await emp.event(undefined, 'start');
  });
  after(async () => {
    await emp.stop();
    await cleanup();
  });

  test('a new file starts its vassal, with env, chdir and its processes', async () => {
    const port = await freePort();
    await writeVassal(dir, 'web.ini', nodeVassal(echo, `processes = 1\nenv = PORT=${port}\nenv = NAME=webby\nchdir = ${dir}\nready = tcp:127.0.0.1:${port}`));
    await emp.event('web.ini', 'ready');
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(await res.text(), /^webby \d+/);
  });

  test('several processes: every worker runs and its lines carry the vassal name', async () => {
    await writeVassal(dir, 'pool.ini', nodeVassal(ticker, 'processes = 3\nenv = INTERVAL=50'));
    const ready = await emp.event('pool.ini', 'ready');
    assert.equal((ready.pids as number[]).length, 3);
    await waitFor(() => new Set(emp.records.filter((r) => r.vassal === 'pool.ini' && r.line?.toString().startsWith('ticker')).map((r) => r.pid)).size === 3, { what: '3 distinct worker pids printing' });
  });

  test('touch reloads (new pids), content change reloads, delete stops', async () => {
    await writeVassal(dir, 'tick.ini', nodeVassal(ticker));
    const first = await emp.event('tick.ini', 'ready');
    const pid1 = (first.pids as number[])[0]!;
    const now = new Date(Date.now() + 2000);
    const reloaded = emp.nextEvent('tick.ini', 'ready');
    await utimes(join(dir, 'tick.ini'), now, now);
    const second = await reloaded;
    const pid2 = (second.pids as number[])[0]!;
    assert.notEqual(pid2, pid1);
    await waitFor(async () => !(await isAlive(pid1)), { what: 'old worker gone after reload' });

    const reloaded2 = emp.nextEvent('tick.ini', 'ready');
    await writeVassal(dir, 'tick.ini', nodeVassal(ticker, 'env = INTERVAL=30'));
    const third = await reloaded2;
    assert.notEqual((third.pids as number[])[0], pid2);

    const stopped = emp.nextEvent('tick.ini', 'stopped');
    await unlink(join(dir, 'tick.ini'));
    await stopped;
    assert.equal(await isAlive((third.pids as number[])[0]!), false);
  });

  test('reload = signal:HUP keeps the pids and signals the workers', async () => {
    await writeVassal(dir, 'hup.ini', nodeVassal(join(FIXTURES, 'stubborn.mjs'), 'reload = signal:HUP\nstop-timeout = 1'));
    const r = await emp.event('hup.ini', 'ready');
    const pid = (r.pids as number[])[0]!;
    const got = emp.nextLine('hup.ini', /^got SIGHUP/);
    await writeVassal(dir, 'hup.ini', nodeVassal(join(FIXTURES, 'stubborn.mjs'), 'reload = signal:HUP\nstop-timeout = 1\nenv = X=1'));
    await got;
    assert.ok(await isAlive(pid));
  });

  test('reload = rolling starts each new worker before stopping an old one', async () => {
    // The alive window is long enough for a new worker's first line to be out before its old
    // peer is stopped, even on a loaded machine: the order of lines is what is checked.
    await writeVassal(dir, 'roll.ini', nodeVassal(ticker, 'processes = 2\nreload = rolling\nready = alive:1500'));
    const r = await emp.event('roll.ini', 'ready');
    const old = r.pids as number[];
    const done = emp.next((x) => x.vassal === 'roll.ini' && x.event === 'reload', 'rolling reload');
    await writeVassal(dir, 'roll.ini', nodeVassal(ticker, 'processes = 2\nreload = rolling\nready = alive:1500\nenv = V=2'));
    await done;
    await waitFor(() => old.every((p) => emp.lines('roll.ini').length > 0 && emp.records.some((x) => x.pid === p && x.line === 'ticker got SIGTERM')), { what: 'both old workers got SIGTERM' });
    // Each old worker's SIGTERM comes after a new worker announced itself.
    const seq = emp.records.filter((x) => x.vassal === 'roll.ini' && typeof x.line === 'string');
    for (const p of old) {
      const termAt = seq.findIndex((x) => x.pid === p && x.line === 'ticker got SIGTERM');
      const newStarted = seq.findIndex((x) => !old.includes(x.pid as number) && /^ticker \d+ started/.test(x.line as string));
      assert.ok(newStarted !== -1 && newStarted < termAt, `a new worker started before old worker ${p} was stopped`);
    }
  });

  test('a worker that ignores the stop signal is killed after stop-timeout', async () => {
    await writeVassal(dir, 'stub.ini', nodeVassal(join(FIXTURES, 'stubborn.mjs'), 'stop-timeout = 1'));
    const r = await emp.event('stub.ini', 'ready');
    const pid = (r.pids as number[])[0]!;
    const t0 = Date.now();
    await unlink(join(dir, 'stub.ini'));
    await emp.event('stub.ini', 'forced-kill');
    await emp.event('stub.ini', 'stopped');
    assert.ok(Date.now() - t0 >= 900, 'waited for stop-timeout before SIGKILL');
    assert.equal(await isAlive(pid), false);
  });

  test('a crashing vassal restarts at once, then with doubling backoff; others are not delayed', async () => {
    await writeVassal(dir, 'crash.ini', nodeVassal(join(FIXTURES, 'crasher.mjs'), 'ready = alive:50'));
    const delays = async (): Promise<number[]> => emp.records.filter((r) => r.vassal === 'crash.ini' && r.event === 'crash').map((r) => r.delayMs as number);
    await waitFor(async () => (await delays()).length >= 4, { what: '4 crashes', timeoutMs: 30_000 });
    assert.deepEqual((await delays()).slice(0, 4), [0, 200, 400, 800]);
    const crash = emp.records.find((r) => r.vassal === 'crash.ini' && r.event === 'crash' && (r.delayMs as number) > 0)!;
    assert.match(crash.msg!, /crash loop/);
    // Another vassal's spawn is not held behind the crash loop.
    const t0 = Date.now();
    await writeVassal(dir, 'other.ini', nodeVassal(ticker, 'ready = alive:10'));
    await emp.event('other.ini', 'ready');
    assert.ok(Date.now() - t0 < 5000);
    await unlink(join(dir, 'crash.ini'));
    await emp.event('crash.ini', 'stopped');
  });

  test('exit code 26 means do not respawn', async () => {
    await writeVassal(dir, 'exile.ini', nodeVassal(join(FIXTURES, 'crasher.mjs'), 'env = CODE=26\nready = alive:10'));
    await emp.event('exile.ini', 'exiled');
    assert.equal(emp.records.filter((r) => r.vassal === 'exile.ini' && r.event === 'crash').length, 0);
  });

  test('a config that goes bad keeps the good version running, and says why with file and line', async () => {
    await writeVassal(dir, 'keep.ini', nodeVassal(ticker));
    const r = await emp.event('keep.ini', 'ready');
    const pid = (r.pids as number[])[0]!;
    const err = emp.nextEvent('keep.ini', 'config-error');
    await writeVassal(dir, 'keep.ini', nodeVassal(ticker, 'proceses = 2'));
    const e = await err;
    assert.match(e.msg!, /keep\.ini:3: .*proceses.*processes/);
    assert.match(e.msg!, /keeps running/);
    assert.ok(await isAlive(pid));
  });
});

describe('readiness probes', () => {
  test('unix, http and file probes', async () => {
    const { dir, cleanup } = await tempDir();
    const emp = new EmperorProcess([dir]);
    try {
      await emp.event(undefined, 'start');
      const port = await freePort();
      await writeVassal(dir, 'http.ini', nodeVassal(echo, `env = PORT=${port}\nready = http://127.0.0.1:${port}/`));
      const sock = join(dir, 'u.sock');
      await writeFile(join(dir, 'unix.mjs'), `import {createServer} from 'node:net'; createServer(()=>{}).listen(${JSON.stringify(sock)});`);
      await writeVassal(dir, 'unix.ini', `[vassal]\ncommand = ${process.execPath} ${join(dir, 'unix.mjs')}\nready = unix:${sock}`);
      const flag = join(dir, 'flag');
      await writeVassal(dir, 'file.ini', `[vassal]\ncommand = /bin/sh -c "sleep 0.3; touch ${flag}; exec sleep 1000"\nready = file:${flag}`);
      await Promise.all(['http.ini', 'unix.ini', 'file.ini'].map((n) => emp.event(n, 'ready')));
      assert.ok(await canConnect(port));
    } finally {
      await emp.stop();
      await cleanup();
    }
  });

  test('a worker that never gets ready is killed and retried', async () => {
    const { dir, cleanup } = await tempDir();
    const emp = new EmperorProcess([dir, '--throttle', '100']);
    try {
      const port = await freePort();
      await writeVassal(dir, 'never.ini', nodeVassal(ticker, `ready = tcp:127.0.0.1:${port}\nready-timeout = 1`));
      await emp.event('never.ini', 'not-ready');
      await emp.event('never.ini', 'crash');
    } finally {
      await emp.stop();
      await cleanup();
    }
  });
});

describe('logs', () => {
  test('logto sends a vassal\'s lines to its file', async () => {
    const { dir, cleanup } = await tempDir();
    const emp = new EmperorProcess([dir]);
    try {
      const logfile = join(dir, 'out.log');
      await writeVassal(dir, 'lt.ini', nodeVassal(ticker, `logto = ${logfile}\nenv = INTERVAL=20`));
      await waitFor(async () => /tick 3/.test(await readFile(logfile, 'utf8').catch(() => '')), { what: 'tick lines in the logto file' });
      assert.equal(emp.lines('lt.ini').length, 0, 'nothing on the emperor output');
    } finally {
      await emp.stop();
      await cleanup();
    }
  });

  test('a burst of 200,000 lines reaches logto and the emperor\'s output whole and in order', async () => {
    const { dir, cleanup } = await tempDir();
    const emp = new EmperorProcess([dir]);
    try {
      const lines = Array.from({ length: 200_000 }, (_, i) => `${String(i).padStart(8, '0')} GET /items?id=${i} 200 payload-abcdefghijklmnopqrstuvwxyz`);
      const data = join(dir, 'data.txt');
      await writeFile(data, lines.join('\n') + '\n');
      const logfile = join(dir, 'burst.log');
      await writeVassal(dir, 'tofile.ini', `[vassal]\ncommand = /bin/sh -c 'cat ${data}; exec sleep 100000'\nlogto = ${logfile}`);
      await waitFor(async () => (await readFile(logfile, 'utf8').catch(() => '')).length >= lines.join('\n').length + 1, { what: 'the whole burst in the logto file', timeoutMs: 60_000 });
      assert.equal(await readFile(logfile, 'utf8'), lines.join('\n') + '\n', 'byte for byte, in order');
      await writeVassal(dir, 'toout.ini', `[vassal]\ncommand = /bin/sh -c 'cat ${data}; exec sleep 100000'`);
      await waitFor(() => emp.lines('toout.ini').length >= lines.length, { what: 'the whole burst on the emperor output', timeoutMs: 60_000 });
      assert.deepEqual(emp.lines('toout.ini'), lines);
    } finally {
      await emp.stop();
      await cleanup();
    }
  });

  test('a flooding vassal does not stall the others', async () => {
    const { dir, cleanup } = await tempDir();
    const emp = new EmperorProcess([dir], { sparse: ['flood.ini'] });
    try {
      await writeVassal(dir, 'flood.ini', `[vassal]\ncommand = /bin/sh -c "yes flooding-the-emperor-with-lines"`);
      await emp.line('flood.ini', /^flooding/);
      await writeVassal(dir, 'calm.ini', nodeVassal(ticker, 'env = INTERVAL=50'));
      await emp.event('calm.ini', 'ready');
      // Under the flood some lines may be dropped for the slow reader (counted): what matters is
      // that the calm vassal keeps running and being heard.
      await emp.waitFor((r) => r.vassal === 'calm.ini' && Number(/^tick (\d+)$/.exec(String(r.line))?.[1] ?? 0) >= 10, 'calm.ini ticking on', 20_000);
      const t0 = Date.now();
      await unlink(join(dir, 'calm.ini'));
      await emp.event('calm.ini', 'stopped');
      assert.ok(Date.now() - t0 < 10_000);
    } finally {
      await emp.stop();
      await cleanup();
    }
  });
});
