import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import curlPlugin from '../../../plugins/curl/index.js';
import { AlarmSubsystem } from '../../../src/alarms/subsystem.js';
import { EmperorError } from '../../../src/errors.js';
import { MemoryLogger } from '../../../src/log/logger.js';
import type { AlarmActionFactory } from '../../../src/plugin.js';
import { freePort } from '../../helpers/wait.js';
import { alarmConfig, alarmRecords, testHost } from '../../alarms/host.js';
import { selfSigned, type SelfSigned } from './cert.js';

const curl = curlPlugin.actions?.curl as AlarmActionFactory;
const actionHost = { vassal: 'app.ini', log: new MemoryLogger(), signalWorkers: () => {} };
const run = (args: string, message: string) =>
  curl(args, actionHost).run({ alarm: 'mail', vassal: 'app.ini', message }, { signal: new AbortController().signal, timeoutMs: 15_000 });

interface Mail {
  from: string;
  to: string[];
  raw: string;
  headers: string;
  body: string;
  user: string | undefined;
  secure: boolean;
}

interface Smtp {
  port: number;
  mails: Mail[];
  auths: Array<{ user: string; pass: string }>;
  close(): Promise<void>;
}

async function smtpServer(opts: Partial<SMTPServerOptions>): Promise<Smtp> {
  const mails: Mail[] = [];
  const auths: Array<{ user: string; pass: string }> = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      auths.push({ user: auth.username ?? '', pass: auth.password ?? '' });
      if (auth.username === 'uwsgi' && auth.password === 'secret') cb(null, { user: auth.username });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session: SMTPServerSession, cb) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (raw += c));
      stream.on('end', () => {
        const cut = raw.indexOf('\r\n\r\n');
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers: raw.slice(0, cut),
          body: raw.slice(cut + 4),
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
        });
        cb();
      });
    },
    ...opts,
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  server.on('error', () => {});
  return { port, mails, auths, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let cert: SelfSigned | undefined;
async function certs(): Promise<SelfSigned> {
  cert ??= await selfSigned();
  return cert;
}
test.after(async () => {
  await cert?.cleanup();
});

test('smtp: AUTH, sender, recipients, subject and body, as the seed example', async () => {
  const s = await smtpServer({ disabledCommands: ['STARTTLS'] });
  try {
    await run(
      `smtp://127.0.0.1:${s.port};mail_to=admin@example.com,ops@example.com;mail_from=uwsgi@example.com;auth_user=uwsgi;auth_pass=secret;subject=alarm from uWSGI !!!`,
      'HARAKIRI ON WORKER 3',
    );
    assert.deepEqual(s.auths, [{ user: 'uwsgi', pass: 'secret' }]);
    assert.equal(s.mails.length, 1);
    const m = s.mails[0];
    assert.ok(m);
    assert.equal(m.user, 'uwsgi');
    assert.equal(m.from, 'uwsgi@example.com');
    assert.deepEqual(m.to, ['admin@example.com', 'ops@example.com']);
    assert.match(m.headers, /^Subject: alarm from uWSGI !!!$/m);
    assert.match(m.headers, /^To: admin@example.com, ops@example.com$/m);
    assert.match(m.headers, /^From: uwsgi@example.com$/m);
    assert.match(m.headers, /^X-Emperor-Alarm: mail$/m);
    assert.equal(m.body.trim(), 'HARAKIRI ON WORKER 3');
    assert.equal(m.secure, false);
  } finally {
    await s.close();
  }
});

test('smtp: a wrong password fails with the server\'s answer, once', async () => {
  const s = await smtpServer({ disabledCommands: ['STARTTLS'] });
  try {
    await assert.rejects(run(`smtp://127.0.0.1:${s.port};mail_to=a@example.com;auth_user=uwsgi;auth_pass=wrong`, 'x'), (err: unknown) => err instanceof EmperorError && /Invalid username or password/.test(err.message));
    assert.equal(s.mails.length, 0);
    assert.equal(s.auths.length, 1);
  } finally {
    await s.close();
  }
});

test('smtp + ssl: STARTTLS is required; ssl_insecure accepts a self-signed certificate', async () => {
  const c = await certs();
  const s = await smtpServer({ key: c.key, cert: c.cert });
  try {
    const base = `smtp://127.0.0.1:${s.port};mail_to=admin@example.com;auth_user=uwsgi;auth_pass=secret;ssl=true`;
    await assert.rejects(run(base, 'x'), (err: unknown) => err instanceof EmperorError && /certificate/i.test(err.message));
    await run(`${base};ssl_insecure=true`, 'over STARTTLS');
    assert.equal(s.mails.length, 1);
    assert.equal(s.mails[0]?.secure, true);
    assert.equal(s.mails[0]?.body.trim(), 'over STARTTLS');
  } finally {
    await s.close();
  }
  const plain = await smtpServer({ disabledCommands: ['STARTTLS'] });
  try {
    await assert.rejects(run(`smtp://127.0.0.1:${plain.port};mail_to=a@example.com;auth_user=uwsgi;auth_pass=secret;ssl=1`, 'x'), EmperorError);
    assert.equal(plain.auths.length, 0, 'no credentials sent in clear');
    assert.equal(plain.mails.length, 0);
  } finally {
    await plain.close();
  }
});

test('smtps: TLS from the first byte, with AUTH and subject', async () => {
  const c = await certs();
  const s = await smtpServer({ secure: true, key: c.key, cert: c.cert });
  try {
    const base = `smtps://127.0.0.1:${s.port};mail_to=admin@example.com;auth_user=uwsgi;auth_pass=secret;subject=gmail style`;
    await assert.rejects(run(base, 'x'), /certificate/i);
    await run(`${base};ssl_insecure=true`, 'over implicit TLS');
    assert.equal(s.mails[0]?.secure, true);
    assert.equal(s.mails[0]?.user, 'uwsgi');
    assert.match(s.mails[0]?.headers ?? '', /^Subject: gmail style$/m);
  } finally {
    await s.close();
  }
});

test('smtp: a hanging server delays nothing else and times out; a dead one is logged', async () => {
  const sockets: Socket[] = [];
  const tarpit = createServer((sock) => void sockets.push(sock));
  tarpit.listen(0, '127.0.0.1');
  await once(tarpit, 'listening');
  const hangPort = (tarpit.address() as AddressInfo).port;
  const deadPort = await freePort();
  const host = testHost({ resolveAction: async (p) => curlPlugin.actions?.[p] });
  const sub = await AlarmSubsystem.create(
    alarmConfig({
      alarmTimeout: 1,
      alarms: [
        { name: 'stuck-mail', action: 'curl', args: `smtp://127.0.0.1:${hangPort};mail_to=a@example.com` },
        { name: 'dead-mail', action: 'curl', args: `smtp://127.0.0.1:${deadPort};mail_to=a@example.com` },
        { name: 'local', action: 'log', args: 'local' },
      ],
      logAlarms: [{ alarms: ['stuck-mail', 'dead-mail', 'local'], pattern: 'PANIC', negate: false }],
    }),
    host,
  );
  try {
    sub.onLine('PANIC at the disco', 1);
    const local = await host.log.waitFor((r) => r.msg.includes('ALARM: local PANIC at the disco'));
    await host.log.waitFor((r) => r.level === 'error' && r.msg.includes('alarm "dead-mail" (curl) failed') && r.msg.includes('ECONNREFUSED'));
    const hung = await host.log.waitFor((r) => r.level === 'error' && r.msg.includes('alarm "stuck-mail" (curl) failed'));
    assert.match(hung.msg, /timed out after 1000 ms/);
    assert.ok(host.log.records.indexOf(local) < host.log.records.indexOf(hung), 'the log alarm did not wait for the SMTP server');
    assert.deepEqual(sub.stats().failed, { 'stuck-mail': 1, 'dead-mail': 1, local: 0 });
    assert.equal(alarmRecords(host.log).length, 1);
  } finally {
    await sub.close();
    for (const s of sockets) s.destroy();
    tarpit.close();
  }
});
