import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import curlPlugin from '../../../plugins/curl/index.js';
import { AlarmSubsystem } from '../../../src/alarms/subsystem.js';
import { EmperorError, ErrorCodes } from '../../../src/errors.js';
import { MemoryLogger } from '../../../src/log/logger.js';
import type { AlarmActionFactory } from '../../../src/plugin.js';
import { alarmConfig, testHost } from '../../alarms/host.js';
import { selfSigned } from './cert.js';

const curl = curlPlugin.actions?.curl as AlarmActionFactory;
const actionHost = { vassal: 'app.ini', log: new MemoryLogger(), signalWorkers: () => {} };
const run = (args: string, message: string, timeoutMs = 10_000) =>
  curl(args, actionHost).run({ alarm: 'web', vassal: 'app.ini', message }, { signal: new AbortController().signal, timeoutMs });

interface Seen {
  method: string;
  url: string;
  body: string;
  auth: string | undefined;
  alarm: string | undefined;
  type: string | undefined;
}

function recorder(status = 200) {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        auth: req.headers.authorization,
        alarm: req.headers['x-emperor-alarm'] as string | undefined,
        type: req.headers['content-type'],
      });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status >= 400 ? 'the database is on fire' : 'ok');
    });
  };
  return { seen, handler };
}

async function listen(server: ReturnType<typeof createHttpServer> | ReturnType<typeof createHttpsServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

test('http: PUTs the message by default, with basic auth', async () => {
  const r = recorder();
  const server = createHttpServer(r.handler);
  const port = await listen(server);
  try {
    await run(`http://127.0.0.1:${port}/argh;auth_user=topogigio;auth_pass=foobar`, 'FATAL: out of cheese');
    assert.equal(r.seen.length, 1);
    const s = r.seen[0];
    assert.equal(s?.method, 'PUT');
    assert.equal(s?.url, '/argh');
    assert.equal(s?.body, 'FATAL: out of cheese');
    assert.equal(s?.auth, `Basic ${Buffer.from('topogigio:foobar').toString('base64')}`);
    assert.equal(s?.alarm, 'web');
    assert.equal(s?.type, 'text/plain; charset=utf-8');
  } finally {
    server.close();
  }
});

test('https: POST with method=POST to a self-signed server needs ssl_insecure', async () => {
  const cert = await selfSigned();
  const r = recorder();
  const server = createHttpsServer({ key: cert.key, cert: cert.cert }, r.handler);
  const port = await listen(server);
  try {
    await assert.rejects(run(`https://127.0.0.1:${port}/argh;method=POST`, 'x'), (err: unknown) => err instanceof EmperorError && /self-signed|certificate/i.test(err.message));
    assert.equal(r.seen.length, 0);
    await run(`https://127.0.0.1:${port}/argh;method=POST;ssl_insecure=true`, 'TERRIBLE ALARM ünïcode');
    assert.equal(r.seen[0]?.method, 'POST');
    assert.equal(r.seen[0]?.body, 'TERRIBLE ALARM ünïcode');
    assert.equal(r.seen[0]?.auth, undefined);
  } finally {
    server.close();
    await cert.cleanup();
  }
});

test('http: a 500 is a failure that quotes the answer; the subsystem logs it with the alarm name', async () => {
  const r = recorder(500);
  const server = createHttpServer(r.handler);
  const port = await listen(server);
  const host = testHost({ resolveAction: async (p) => curlPlugin.actions?.[p] });
  const sub = await AlarmSubsystem.create(
    alarmConfig({ alarms: [{ name: 'hook', action: 'curl', args: `http://u:pw@127.0.0.1:${port}/hook;method=POST` }], logAlarms: [{ alarms: ['hook'], pattern: 'ERROR', negate: false }] }),
    host,
  );
  try {
    sub.onLine('ERROR everything', 1);
    const rec = await host.log.waitFor((x) => x.level === 'error' && x.msg.includes('alarm "hook" (curl) failed'));
    assert.match(rec.msg, new RegExp(`POST http://127\\.0\\.0\\.1:${port}/hook: HTTP 500 Internal Server Error: the database is on fire`));
    assert.ok(!rec.msg.includes('pw'), 'the password never shows');
    assert.equal(r.seen.length, 1, 'no retry');
    assert.equal(sub.stats().failed.hook, 1);
  } finally {
    await sub.close();
    server.close();
  }
});

test('http: a server that never answers is cut off by timeout=, and a dead port fails fast', async () => {
  const server = createHttpServer(() => {});
  const port = await listen(server);
  try {
    const started = Date.now();
    await assert.rejects(run(`http://127.0.0.1:${port}/;timeout=0.3`, 'x'), (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.ALARM_ACTION && /curl timeout/.test(err.message));
    assert.ok(Date.now() - started < 5000);
  } finally {
    server.closeAllConnections();
    server.close();
  }
  await assert.rejects(run(`http://127.0.0.1:${port}/`, 'x'), /ECONNREFUSED/);
});

test('http: the run signal (alarm-timeout, vassal stop) aborts the request', async () => {
  const server = createHttpServer(() => {});
  const port = await listen(server);
  try {
    const ac = new AbortController();
    const p = curl(`http://127.0.0.1:${port}/`, actionHost).run({ alarm: 'a', vassal: 'v', message: 'm' }, { signal: ac.signal, timeoutMs: 60_000 });
    setImmediate(() => ac.abort(new EmperorError(ErrorCodes.ALARM_ACTION, 'timed out after 100 ms')));
    await assert.rejects(p, /timed out after 100 ms/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
