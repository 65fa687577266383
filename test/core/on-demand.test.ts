/**
 * On-demand vassals through the real `emperor` command: the emperor binds the socket and runs
 * nothing until a client connects; the vassal gets the socket as systemd passes one (fd 3,
 * LISTEN_FDS, LISTEN_PID as the program itself sees its pid), serves the client that woke it,
 * goes back to waiting when idle, and no client is refused or lost across the switches.
 */
import assert from 'node:assert/strict';
import { chmod, chown, copyFile, lstat, mkdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { publishZmq } from '../../plugins/zmq/publish.js';
import { testDatabase } from '../helpers/pg-database.js';
import { EmperorProcess, FIXTURES, type Record_ } from '../helpers/emperor-process.js';
import { writeVassal } from '../helpers/vassal-files.js';
import { freePort, tempDir, waitFor } from '../helpers/wait.js';
import { createUser } from '../isolation/users.js';
import { cli, request, startFleet, type Fleet } from '../ops/helpers.js';
import { APP, uwsgiSkip } from '../uwsgi/helpers.js';

const server = join(FIXTURES, 'on-demand-server.mjs');
const vassal = (socketKey: string, args = '', extra = ''): string =>
  `[vassal]\ncommand = ${process.execPath} ${server} ${args}\n${socketKey}\nready = alive:100\n${extra}\n`;

type Target = { port: number } | { path: string };

/** Connects, and resolves with everything the server sent before closing. */
function ask(target: Target, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = 'port' in target ? connect({ port: target.port, host: '127.0.0.1' }) : connect({ path: target.path });
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms (got ${JSON.stringify(data)})`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('end', () => {
      clearTimeout(timer);
      resolve(data.trim());
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The first `event` of `vassal` logged after the record `since`, whether it came already or not. */
function eventAfter(emp: EmperorProcess, since: Record_, vassal: string, event: string): Promise<Record_> {
  const from = emp.records.indexOf(since);
  return emp.waitFor((r) => r.vassal === vassal && r.event === event && emp.records.indexOf(r) > from, `${event} of ${vassal} after ${since.event ?? since.msg}`);
}

/** The instance word of "served by INSTANCE #N TAG". */
function instanceOf(answer: string): string {
  const m = /^served by (\S+) #\d+/.exec(answer);
  assert.ok(m, `a served answer, got ${JSON.stringify(answer)}`);
  return m[1]!;
}

interface Row {
  name: string;
  state: string;
  pids: number[];
  health: string;
  note: string;
}

async function statusRow(f: Fleet, name: string): Promise<Row | undefined> {
  return (await request<{ rows: Row[] }>(f.sock, { cmd: 'status' })).rows.find((r) => r.name === name);
}

/** The stats document over the --stats unix socket. */
function stats(path: string): Promise<{ vassals: Array<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (buf += d));
    s.on('end', () => resolve(JSON.parse(buf) as { vassals: Array<Record<string, unknown>> }));
    s.on('error', reject);
  });
}

async function gone(path: string): Promise<boolean> {
  return lstat(path).then(
    () => false,
    () => true,
  );
}

describe('on-demand vassals', () => {
  let f: Fleet;
  let statsPath: string;

  before(async () => {
    f = await startFleet((dir) => ['--stats', join(dir, 'stats.sock')]);
    statsPath = join(f.dir, 'stats.sock');
  });
  after(() => f.stop());

  test('tcp: nothing runs until a client connects; that client is served by a program that got fd 3 with LISTEN_PID as its own pid; idle brings it back to waiting', async () => {
    const port = await freePort();
    await writeVassal(f.dir, 'tcp.ini', vassal(`on-demand = 127.0.0.1:${port}`, '', 'idle = 3'));
    await f.emp.event('tcp.ini', 'waiting');

    const waiting = await statusRow(f, 'tcp.ini');
    assert.equal(waiting?.state, 'waiting');
    assert.deepEqual(waiting?.pids, [], 'no process before the first client');
    assert.match(waiting?.note ?? '', new RegExp(`on demand: starts at the first connection to 127\\.0\\.0\\.1:${port}`));
    const table = await cli(['status', 'tcp', '--control', f.sock]);
    assert.match(table.out, /tcp\.ini\s+waiting/);
    const doc = (await stats(statsPath)).vassals.find((v) => v.id === 'tcp.ini')!;
    assert.equal(doc.state, 'waiting');
    assert.equal(doc.on_demand, `127.0.0.1:${port}`);
    assert.equal(doc.health, 'OK', 'a waiting vassal serves whoever connects');
    assert.equal(doc.pid, 0);

    const first = await ask({ port });
    assert.match(first, /^served by \S+ #1$/, 'the client that woke the vassal is its first, not lost');
    const activated = await f.emp.line('tcp.ini', /^activated: /);
    const m = /LISTEN_FDS=1 LISTEN_PID=(\d+) pid=(\d+) LISTEN_FDNAMES=tcp$/.exec(activated.line as string);
    assert.ok(m, `the program saw the systemd variables: ${activated.line as string}`);
    assert.equal(m[1], m[2], 'LISTEN_PID is the pid the program sees for itself');
    if (process.getuid?.() === 0) assert.notEqual(Number(m[2]), activated.pid, 'in its own pid namespace the program sees another pid than the emperor');
    const running = await waitFor(async () => {
      const r = await statusRow(f, 'tcp.ini');
      return r?.state === 'running' && r;
    }, { what: 'tcp.ini running' });
    assert.equal(running.pids.length, 1);
    assert.equal((await stats(statsPath)).vassals.find((v) => v.id === 'tcp.ini')!.on_demand, `127.0.0.1:${port}`);

    // Three seconds without a client: back to waiting, the process gone, the socket still bound.
    const started = await f.emp.event('tcp.ini', 'on-demand');
    const idle = await eventAfter(f.emp, started, 'tcp.ini', 'idle');
    assert.match(idle.msg ?? '', /no connection for 3\.0 s/);
    await eventAfter(f.emp, idle, 'tcp.ini', 'waiting');
    assert.deepEqual((await statusRow(f, 'tcp.ini'))?.pids, []);

    const second = await ask({ port });
    assert.match(second, /^served by \S+ #1$/, 'a new instance serves the next client');
    assert.notEqual(instanceOf(second), instanceOf(first));
    assert.equal(f.emp.records.filter((r) => r.vassal === 'tcp.ini' && r.event === 'on-demand').length, 2);
  });

  test('unix: the socket file has the configured mode; a program that exits 0 on its own sends the vassal back to waiting; removing the vassal removes the file', async () => {
    const sock = join(f.dir, 'app.sock');
    await writeVassal(f.dir, 'unix.ini', vassal(`on-demand = ${sock}\non-demand-mode = 0600`, '--exit-when-idle 300'));
    await f.emp.event('unix.ini', 'waiting');
    const st = await lstat(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal((await stats(statsPath)).vassals.find((v) => v.id === 'unix.ini')!.on_demand, sock);

    const first = await ask({ path: sock });
    assert.match(first, /^served by \S+ #1$/);
    const done = await f.emp.event('unix.ini', 'done');
    assert.match(done.msg ?? '', /exited cleanly: not respawned before the next connection/);
    await eventAfter(f.emp, done, 'unix.ini', 'waiting');
    assert.equal(f.emp.records.some((r) => r.vassal === 'unix.ini' && r.event === 'crash'), false, 'a clean exit is no crash');

    const second = await ask({ path: sock });
    assert.notEqual(instanceOf(second), instanceOf(first));

    const stopped = f.emp.nextEvent('unix.ini', 'stopped');
    await rm(join(f.dir, 'unix.ini'));
    await stopped;
    assert.ok(await gone(sock), 'the socket file is removed with the vassal');
    await assert.rejects(ask({ path: sock }), { code: 'ENOENT' });
  });

  test('clients that arrive while the vassal goes idle and comes back are all served: none refused, none lost', async () => {
    const port = await freePort();
    // The old instance stops accepting at once but takes 300 ms to go; the new one needs 200 ms
    // before it accepts: clients arriving around a switch queue in the backlog meanwhile.
    await writeVassal(f.dir, 'storm.ini', vassal(`on-demand = 127.0.0.1:${port}`, '--stop-delay 300 --start-delay 200', 'idle = 0.5'));
    await f.emp.event('storm.ini', 'waiting');
    const answers: string[] = [];
    const failures: string[] = [];
    const client = async (): Promise<void> => {
      try {
        answers.push(await ask({ port }));
      } catch (err) {
        failures.push((err as Error).message);
      }
    };
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    // Rounds of a few clients, then a pause long enough for the idle stop, and a burst that
    // lands somewhere in the switch (the pause varies, so the bursts hit its different moments).
    const rounds = 6;
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < 3; j++) {
        await client();
        await sleep(50);
      }
      await sleep(550 + i * 90);
      await Promise.all(Array.from({ length: 8 }, () => client()));
    }
    // And one burst exactly when the switch begins.
    const idle = f.emp.nextEvent('storm.ini', 'idle');
    await idle;
    await Promise.all(Array.from({ length: 8 }, () => client()));

    assert.deepEqual(failures, [], 'every client was served');
    assert.equal(answers.length, rounds * 11 + 8);
    for (const a of answers) assert.match(a, /^served by \S+ #\d+$/);
    const instances = new Set(answers.map(instanceOf));
    const idles = f.emp.records.filter((r) => r.vassal === 'storm.ini' && r.event === 'idle').length;
    assert.ok(idles >= 3, `the vassal went idle and came back several times (${idles} idle stops, ${instances.size} instances)`);
    assert.ok(instances.size >= 3);
  });

  test('a reload of a waiting vassal only updates its config; the next client starts the new version; a reload of a running one restarts it', async () => {
    const port = await freePort();
    await writeVassal(f.dir, 'rel.ini', vassal(`on-demand = 127.0.0.1:${port}`, '', 'env = TAG=one'));
    await f.emp.event('rel.ini', 'waiting');
    const reloaded = f.emp.nextEvent('rel.ini', 'reload');
    await writeVassal(f.dir, 'rel.ini', vassal(`on-demand = 127.0.0.1:${port}`, '', 'env = TAG=two'));
    assert.match((await reloaded).msg ?? '', /config updated; it applies at the next connection/);
    assert.equal((await statusRow(f, 'rel.ini'))?.state, 'waiting');
    assert.deepEqual((await statusRow(f, 'rel.ini'))?.pids, [], 'nothing started by the reload');

    const first = await ask({ port });
    assert.match(first, / two$/, 'the new config applies at the next start');
    await waitFor(async () => (await statusRow(f, 'rel.ini'))?.state === 'running', { what: 'rel.ini running' });
    const ready = f.emp.nextEvent('rel.ini', 'ready');
    await writeVassal(f.dir, 'rel.ini', vassal(`on-demand = 127.0.0.1:${port}`, '', 'env = TAG=three'));
    await ready;
    assert.match(await ask({ port }), / three$/, 'a running vassal is reloaded at once, on the same socket');
  });
});

test('zmq: the socket in message part 6 makes the vassal on demand; destroy closes it', async () => {
  const { dir, cleanup } = await tempDir('emperor-ondemand-zmq-');
  const endpoint = `zmq://tcp://127.0.0.1:${await freePort()}`;
  const port = await freePort();
  const emp = new EmperorProcess([endpoint, '--state-dir', join(dir, 'state'), '--no-control']);
  try {
    await emp.event(undefined, 'start');
    await publishZmq(endpoint, ['touch', 'z.ini', vassal('', '', 'env = TAG=zmq'), '', '', `127.0.0.1:${port}`]);
    const waiting = await emp.event('z.ini', 'waiting');
    assert.equal(waiting.socket, `127.0.0.1:${port}`);
    assert.match(await ask({ port }), /^served by \S+ #1 zmq$/);
    const stopped = emp.nextEvent('z.ini', 'stopped');
    await publishZmq(endpoint, ['destroy', 'z.ini']);
    await stopped;
    await assert.rejects(ask({ port }), { code: 'ECONNREFUSED' });
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('pg: the socket in column 6 makes the vassal on demand (a unix socket here)', async (t) => {
  const tdb = await testDatabase('emperor_ondemand');
  if ('unavailable' in tdb) {
    t.skip(tdb.unavailable);
    return;
  }
  const { client, name: db } = tdb;
  const { dir, cleanup } = await tempDir('emperor-ondemand-pg-');
  const sock = join(dir, 'row.sock');
  const conninfo = `host=127.0.0.1 port=5432 user=postgres dbname=${db}`;
  const emp = new EmperorProcess([`pg://${conninfo};SELECT name,config,EXTRACT(epoch FROM ts),NULL,NULL,socket FROM vassals`, '--freq', '1', '--no-control']);
  try {
    await client.query('CREATE TABLE vassals (name text PRIMARY KEY, config text NOT NULL, ts timestamptz NOT NULL DEFAULT now(), socket text)');
    await emp.event(undefined, 'start');
    await client.query('INSERT INTO vassals (name, config, socket) VALUES ($1, $2, $3)', ['row.ini', vassal('', '', 'env = TAG=pg'), sock]);
    const waiting = await emp.event('row.ini', 'waiting');
    assert.equal(waiting.socket, sock);
    assert.match(await ask({ path: sock }), /^served by \S+ #1 pg$/);
    const stopped = emp.nextEvent('row.ini', 'stopped');
    await client.query(`DELETE FROM vassals WHERE name = 'row.ini'`);
    await stopped;
    assert.ok(await gone(sock));
  } finally {
    await emp.stop();
    await tdb.drop();
    await cleanup();
  }
});

test('a socket that cannot be bound rejects the config with the reason; the address is free again once fixed', async () => {
  const { dir, cleanup } = await tempDir('emperor-ondemand-bad-');
  const emp = new EmperorProcess([dir, '--no-control']);
  try {
    await emp.event(undefined, 'start');
    await mkdir(join(dir, 'plain'));
    await writeVassal(dir, 'busy.ini', vassal(`on-demand = ${join(dir, 'plain')}`));
    const err = await emp.event('busy.ini', 'start-error');
    assert.match(err.msg ?? '', /on-demand: cannot listen on .*plain: the path exists and is not a socket \(EEXIST\)/);
    await writeVassal(dir, 'bad.ini', vassal('on-demand = nonsense'));
    const bad = await emp.event('bad.ini', 'config-error');
    assert.match(bad.msg ?? '', /bad\.ini:3: on-demand: expected HOST:PORT or a unix socket path/);
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('tyrant: the unix socket is created as the config owner, in a directory it may write, and refused elsewhere', { skip: process.getuid?.() === 0 ? false : 'tyrant mode needs root' }, async () => {
  const { dir, cleanup } = await tempDir('emperor-ondemand-tyrant-');
  const user = await createUser();
  const emp = new EmperorProcess([join(dir, 'vassals'), '--tyrant', '--no-control']);
  try {
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'vassals'), { mode: 0o755 });
    const own = join(dir, 'own');
    await mkdir(own, { mode: 0o755 });
    await chown(own, user.uid, user.gid);
    const rootOnly = join(dir, 'root-only');
    await mkdir(rootOnly, { mode: 0o755 });
    // The program must be readable by the user: a copy beside the configs.
    const program = join(dir, 'server.mjs');
    await copyFile(server, program);
    await chmod(program, 0o644);
    const config = (sock: string): string => `[vassal]\ncommand = ${process.execPath} ${program}\non-demand = ${sock}\nready = alive:100\n`;
    await emp.event(undefined, 'start');

    const sock = join(own, 'app.sock');
    const good = await writeVassal(join(dir, 'vassals'), 'good.ini', config(sock));
    await chown(good, user.uid, user.gid);
    await emp.event('good.ini', 'waiting');
    const st = await lstat(sock);
    assert.deepEqual([st.uid, st.gid], [user.uid, user.gid], 'the socket file belongs to the vassal user');
    assert.match(await ask({ path: sock }), /^served by \S+ #1$/);
    const activated = await emp.line('good.ini', /^activated: /);
    assert.match(activated.line as string, /LISTEN_FDS=1 LISTEN_PID=(\d+) pid=\1 /);

    const bad = await writeVassal(join(dir, 'vassals'), 'bad.ini', config(join(rootOnly, 'app.sock')));
    await chown(bad, user.uid, user.gid);
    const refused = await emp.event('bad.ini', 'start-error');
    assert.match(refused.msg ?? '', new RegExp(`on-demand: uid ${user.uid} gid ${user.gid} may not create .*root-only/app\\.sock \\(no write/search permission on .*root-only\\)`));
    assert.ok(await gone(join(rootOnly, 'app.sock')));

    const stopped = emp.nextEvent('good.ini', 'stopped');
    await rm(good);
    await stopped;
    assert.ok(await gone(sock), 'removed with the vassal, as the user');
  } finally {
    await emp.stop();
    await user.remove();
    await cleanup();
  }
});

const uwsgiMissing = await uwsgiSkip();

test('uWSGI: the socket goes to fd 0; an idle instance (byte 22) sends the vassal back to waiting, the next request starts it again', { skip: uwsgiMissing }, async () => {
  const { dir, cleanup } = await tempDir('emperor-ondemand-uwsgi-');
  const endpoint = `zmq://tcp://127.0.0.1:${await freePort()}`;
  const port = await freePort();
  const emp = new EmperorProcess([endpoint, '--state-dir', join(dir, 'state'), '--no-control']);
  const get = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    await emp.event(undefined, 'start');
    const config = ['[uwsgi]', 'plugins = python3', 'master = true', 'processes = 1', `wsgi-file = ${APP}`, 'protocol = http', 'idle = 1', 'die-on-idle = true', ''].join('\n');
    await publishZmq(endpoint, ['touch', 'uw.ini', config, '', '', `127.0.0.1:${port}`]);
    await emp.event('uw.ini', 'waiting');
    assert.match(await get(), /^hello from app pid \d+$/);
    await emp.line('uw.ini', new RegExp(`uwsgi socket 0 inherited INET address 127\\.0\\.0\\.1:${port} fd 0`));
    const idleStop = await emp.event('uw.ini', 'idle-stop');
    await eventAfter(emp, idleStop, 'uw.ini', 'waiting');
    assert.match(await get(), /^hello from app pid \d+$/);
    assert.equal(emp.records.filter((r) => r.vassal === 'uw.ini' && r.event === 'on-demand').length, 2);
  } finally {
    await emp.stop();
    await cleanup();
  }
});
