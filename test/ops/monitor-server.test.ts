/**
 * The per-vassal monitor server over real TCP, as HAProxy and netcat talk to ftw.monitor:
 * health_check through starting, warmup and ready; perf_metrics; help; interactive mode; quit;
 * monitor-offset; and the server's life with its vassal's.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURES } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { canConnect, freePort, waitFor } from '../helpers/wait.js';
import { startFleet, type Fleet } from './helpers.js';

const ticker = join(FIXTURES, 'ticker.mjs');
const crasher = join(FIXTURES, 'crasher.mjs');

/** Sends `text` and reads until the server closes the connection (as HAProxy's tcp-check does). */
function ask(port: number, text: string, opts: { halfClose?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let buf = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (buf += d));
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.on('connect', () => (opts.halfClose ? s.end(text) : s.write(text)));
  });
}

/** An interactive session: write a line, wait for the answer to contain `until`. */
class Session {
  private buf = '';
  private readonly s;
  readonly closed: Promise<void>;
  constructor(port: number) {
    this.s = connect({ port, host: '127.0.0.1' });
    this.s.setEncoding('latin1');
    this.s.on('data', (d: string) => (this.buf += d));
    this.closed = new Promise((r) => this.s.on('close', () => r()));
  }
  async say(line: string, until: RegExp): Promise<string> {
    const from = this.buf.length;
    this.s.write(line + '\n');
    return waitFor(() => {
      const got = this.buf.slice(from);
      return until.test(got) ? got : undefined;
    }, { what: `answer to '${line}' matching ${until}` });
  }
  destroy(): void {
    this.s.destroy();
  }
}

/** A stand-in for the application's warmup view: holds each request until released. */
class WarmupTarget {
  readonly server: Server;
  hits = 0;
  status = 200;
  private held: Array<() => void> = [];
  constructor() {
    this.server = createServer((_req, res) => {
      this.hits++;
      this.held.push(() => {
        res.statusCode = this.status;
        res.end('warm\n');
      });
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return (this.server.address() as { port: number }).port;
  }
  release(): void {
    for (const h of this.held.splice(0)) h();
  }
  get waiting(): number {
    return this.held.length;
  }
  close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('a vassal\'s monitor server (ftw.monitor\'s protocol)', () => {
  let f: Fleet;
  let warm: WarmupTarget;
  let warmPort: number;
  let monPort: number;
  let gatePort: number;
  let gate: TcpServer | undefined;

  before(async () => {
    f = await startFleet(['--throttle', '60000']);
    warm = new WarmupTarget();
    warmPort = await warm.listen();
    monPort = await freePort();
    gatePort = await freePort();
  });
  after(async () => {
    gate?.close();
    await warm.close();
    await f.stop();
  });

  test('health_check: "Not ready: starting", then "Warmup in progress" while the warmup runs, then OK', async () => {
    // Ready once something listens on gatePort: the test decides when.
    await writeVassal(f.dir, 'app.ini', nodeVassal(ticker, `ready = tcp:127.0.0.1:${gatePort}\nmonitor = 127.0.0.1:${monPort}\nwarmup = http://127.0.0.1:${warmPort}/warmup`));
    await f.emp.event('app.ini', 'monitor-server');
    assert.equal(await ask(monPort, 'health_check\r\n'), 'Not ready: starting\n');

    gate = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => gate!.listen(gatePort, '127.0.0.1', () => r()));
    await f.emp.event('app.ini', 'ready');
    await waitFor(() => warm.waiting === 1, { what: 'the warmup request' });
    assert.equal(await ask(monPort, 'health_check\r\n'), 'Warmup in progress\n');

    warm.release();
    await f.emp.event('app.ini', 'warmup-done');
    assert.equal(await ask(monPort, 'health_check\r\n'), 'OK\n');
    // netcat without a newline, half-closing: still answered.
    assert.equal(await ask(monPort, 'health_check', { halfClose: true }), 'OK\n');
  });

  test('HAProxy: tcp-check send health_check\\r\\n, expect string OK, then the server closes', async () => {
    const answer = await ask(monPort, 'health_check\r\n');
    assert.ok(answer.includes('OK'));
  });

  test('perf_metrics answers JSON: instance uptime, memory rss/uss/pss over every process, restarts, alarms', async () => {
    const m = JSON.parse(await ask(monPort, 'perf_metrics\r\n')) as {
      instance: { name: string; uptime: number; pids: number[]; workers: number; state: string };
      memory: { rss: number; uss: number; pss: number; cgroup?: number };
      restarts: number;
      alarms: { fired: number };
    };
    assert.equal(m.instance.name, 'app.ini');
    assert.equal(m.instance.state, 'running');
    assert.equal(m.instance.workers, 1);
    assert.ok(m.instance.pids.length >= 1);
    assert.ok(m.instance.uptime >= 0 && m.instance.uptime < 600);
    assert.ok(m.memory.rss > 10 * 1024 * 1024, 'a node process is over 10 MB resident');
    assert.ok(m.memory.uss > 0 && m.memory.uss <= m.memory.rss);
    assert.ok(m.memory.pss > 0 && m.memory.pss <= m.memory.rss);
    assert.equal('cgroup' in m.memory, false, 'no cgroup, no cgroup figure');
    assert.equal(m.restarts, 0);
    assert.equal(m.alarms.fired, 0);
  });

  test('help lists the commands; help CMD explains one; an unknown command says so', async () => {
    const help = await ask(monPort, 'help\r\n');
    assert.equal(help.split('\n')[0], 'Supported commands:');
    for (const c of ['health_check', 'help', 'interactive', 'perf_metrics', 'quit']) assert.match(help, new RegExp(`^  ${c} -- `, 'm'));
    assert.match(await ask(monPort, 'help perf_metrics\n'), /^Help for perf_metrics:\n\nGet performance related metrics/);
    assert.equal(await ask(monPort, 'frobnicate\n'), 'Invalid command \'frobnicate\'\nTry "help".\n');
  });

  test('interactive mode keeps the connection; an empty line repeats the last command; quit says Goodbye', async () => {
    const s = new Session(monPort);
    try {
      assert.equal(await s.say('interactive', /exit\.\n/), 'Interactive mode on.  Use "quit" To exit.\n');
      assert.equal(await s.say('health_check', /\n/), 'OK\n');
      assert.equal(await s.say('', /\n/), 'OK\n');
      assert.equal(await s.say('quit', /\n/), 'Goodbye.\n');
      await s.closed;
    } finally {
      s.destroy();
    }
  });

  test('each (re)start that becomes ready is warmed up again', async () => {
    const hits = warm.hits;
    const t = new Date(Date.now() + 5000);
    await utimes(join(f.dir, 'app.ini'), t, t);
    await waitFor(() => warm.hits > hits, { what: 'a second warmup after the reload' });
    assert.equal(await ask(monPort, 'health_check\r\n'), 'Warmup in progress\n');
    warm.release();
    await waitFor(async () => (await ask(monPort, 'health_check\r\n')) === 'OK\n', { what: 'OK after the second warmup' });
  });

  test('a failed warmup is the health check\'s answer', async () => {
    const port = await freePort();
    warm.status = 503;
    try {
      await writeVassal(f.dir, 'cold.ini', nodeVassal(ticker, `ready = alive:100\nmonitor = 127.0.0.1:${port}\nwarmup = http://127.0.0.1:${warmPort}/warmup`));
      await f.emp.event('cold.ini', 'ready');
      await waitFor(() => warm.waiting >= 1, { what: 'the warmup request' });
      warm.release();
      await f.emp.event('cold.ini', 'warmup-failed');
      assert.equal(await ask(port, 'health_check\r\n'), 'Warmup failed: HTTP 503\n');
    } finally {
      warm.status = 200;
    }
  });

  test('a crash-looping vassal answers why it is not ready', async () => {
    const port = await freePort();
    await writeVassal(f.dir, 'crash.ini', nodeVassal(crasher, `ready = alive:100\nmonitor = 127.0.0.1:${port}`));
    await f.emp.event('crash.ini', 'monitor-server');
    await waitFor(async () => /^Not ready: backoff \(crash loop, next start in .+\)\n$/.test(await ask(port, 'health_check\r\n')), { what: 'backoff reason' });
  });

  test('monitor-offset listens on the vassal\'s port + offset, as ftw.monitor\'s instance port + 80', async () => {
    let mon = await freePort();
    while (mon <= 1100) mon = await freePort();
    await writeVassal(f.dir, 'offset.ini', nodeVassal(ticker, `ready = alive:100\nport = ${mon - 80}\nmonitor-offset = 80`));
    await f.emp.event('offset.ini', 'ready');
    await waitFor(async () => (await ask(mon, 'health_check\r\n').catch(() => '')) === 'OK\n', { what: `OK on port ${mon}` });
  });

  test('perf_metrics reports the cgroup memory of a vassal that has a cgroup', async (t) => {
    const port = await freePort();
    const name = `emperor-ops-test-${process.pid}`;
    await writeVassal(f.dir, 'grouped.ini', nodeVassal(ticker, `ready = alive:100\ncgroup = ${name}\nmonitor = 127.0.0.1:${port}`));
    const outcome = await Promise.race([f.emp.event('grouped.ini', 'ready'), f.emp.event('grouped.ini', 'config-error')]);
    if (outcome.event === 'config-error' && /without cgroup support/.test(outcome.msg ?? '')) {
      t.skip('this emperor build runs without cgroup support');
      return;
    }
    assert.equal(outcome.event, 'ready', outcome.msg);
    // A node worker's heap grows past 1 MiB within moments of starting; the cgroup sees it.
    await waitFor(async () => {
      const m = JSON.parse(await ask(port, 'perf_metrics\r\n')) as { memory: { rss: number; cgroup?: number } };
      return (m.memory.cgroup ?? 0) > 1024 * 1024;
    }, { what: 'cgroup memory of a node worker above 1 MiB' });
    await unlink(join(f.dir, 'grouped.ini'));
    await f.emp.event('grouped.ini', 'stopped');
  });

  test('the monitor server stops with its vassal', async () => {
    assert.ok(await canConnect(monPort));
    await unlink(join(f.dir, 'app.ini'));
    await f.emp.event('app.ini', 'stopped');
    await waitFor(async () => !(await canConnect(monPort)), { what: 'monitor port closed' });
  });
});
