import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client as xmppClient, xml, type Client, type Element } from '@xmpp/client';
import xmppPlugin from '../../../plugins/xmpp/index.js';
import { parseXmppArgs } from '../../../plugins/xmpp/options.js';
import { replaceScramSha1 } from '../../../plugins/xmpp/scram-sha-1.js';
import { XmppSession } from '../../../plugins/xmpp/session.js';
import { AlarmSubsystem } from '../../../src/alarms/subsystem.js';
import { EmperorError, ErrorCodes } from '../../../src/errors.js';
import { MemoryLogger } from '../../../src/log/logger.js';
import { inCI, waitFor } from '../../helpers/wait.js';
import { alarmConfig, testHost } from '../../alarms/host.js';
import { createProsody, prosodyInstalled, type Prosody } from './prosody.js';

test('xmpp arguments: the seed syntax, a /resource, a service; bad ones are config errors', () => {
  const o = parseXmppArgs('max@server.local/uWSGI;secret1;foo1@foo.it,foo2@foo.it');
  assert.deepEqual(o, {
    local: 'max', domain: 'server.local', resource: 'uWSGI', password: 'secret1',
    recipients: ['foo1@foo.it', 'foo2@foo.it'], service: undefined, display: 'max@server.local/uWSGI',
  });
  assert.equal(parseXmppArgs('a@b;p;c@d;service=xmpp://127.0.0.1:5222').service, 'xmpp://127.0.0.1:5222');
  for (const [args, what] of [
    ['a@b;p', /expected JID;PASSWORD;RECIPIENT/],
    ['nodomain;p;c@d', /expected a JID/],
    ['a@b;p;', /at least one recipient/],
    ['a@b;p;not a jid', /is not a JID/],
    ['a@b;p;c@d;colour=blue', /unknown option "colour"/],
    ['a@b;p;c@d;service=http://x', /service: expected/],
  ] as const) {
    assert.throws(() => parseXmppArgs(args), (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.CONFIG_INVALID && what.test(err.message), args);
  }
});

interface Inbox {
  client: Client;
  messages: Array<{ from: string; body: string }>;
}

async function recipient(p: Prosody, user: string, password: string): Promise<Inbox> {
  const c = xmppClient({ service: `xmpp://127.0.0.1:${p.port}`, domain: p.domain, username: user, password, resource: 'inbox' });
  c.reconnect.stop();
  replaceScramSha1(c.sasl);
  c.on('error', () => {});
  const messages: Inbox['messages'] = [];
  c.on('stanza', (s: Element) => {
    if (s.is('message') && s.attrs.type !== 'error') messages.push({ from: s.attrs.from ?? '', body: s.getChildText('body') ?? '' });
  });
  await c.start();
  // Available presence, so the server delivers chat messages to this resource.
  await c.send(xml('presence'));
  return { client: c, messages };
}

async function stopAll(inboxes: Inbox[]): Promise<void> {
  await Promise.all(inboxes.map((i) => i.client.stop().catch(() => undefined)));
}

test('xmpp against a real Prosody: delivery to every recipient, one session, reconnect, bad password', async (t) => {
  if (!(await prosodyInstalled())) {
    if (inCI) assert.fail('prosody is not installed (apt-get install -y prosody)');
    t.skip('prosody is not installed (apt-get install -y prosody)');
    return;
  }
  const p = await createProsody();
  let inboxes: Inbox[] = [];
  try {
    await p.register('alice', 'secret1');
    await p.register('bob', 'bobpass');
    await p.register('carol', 'carolpass');
    await p.start();
    inboxes = [await recipient(p, 'bob', 'bobpass'), await recipient(p, 'carol', 'carolpass')];
    const [bob, carol] = inboxes as [Inbox, Inbox];

    await t.test('the seed example: a log line reaches both recipients from the JID/resource', async () => {
      const host = testHost({ resolveAction: async (prefix) => xmppPlugin.actions?.[prefix] });
      const sub = await AlarmSubsystem.create(
        alarmConfig({
          alarms: [{ name: 'jabber', action: 'xmpp', args: `alice@${p.domain}/emperor;secret1;bob@${p.domain},carol@${p.domain};service=xmpp://127.0.0.1:${p.port}` }],
          logAlarms: [{ alarms: ['jabber'], pattern: '^TERRIBLE ALARM', negate: false }],
        }),
        host,
      );
      try {
        sub.onLine('TERRIBLE ALARM! The world exploded!!!', 1);
        sub.onLine('all quiet', 1);
        await waitFor(() => bob.messages.length > 0 && carol.messages.length > 0, { what: 'the message at bob and carol' });
        for (const inbox of [bob, carol]) {
          assert.deepEqual(inbox.messages, [{ from: `alice@${p.domain}/emperor`, body: 'TERRIBLE ALARM! The world exploded!!!' }]);
        }
        assert.equal(sub.stats().failed.jabber, 0);
      } finally {
        await sub.close();
      }
    });

    await t.test('one session serves many alarms; when the server restarts, the next alarm reconnects', async () => {
      bob.messages.length = 0;
      const session = new XmppSession(parseXmppArgs(`alice@${p.domain};secret1;bob@${p.domain};service=xmpp://127.0.0.1:${p.port}`), new MemoryLogger());
      try {
        const signal = (): AbortSignal => AbortSignal.timeout(15_000);
        await Promise.all([session.send('first', signal()), session.send('second', signal())]);
        await session.send('third', signal());
        await waitFor(() => bob.messages.length >= 3, { what: 'three messages' });
        assert.deepEqual(bob.messages.map((m) => m.body).sort(), ['first', 'second', 'third']);
        assert.equal(session.connects, 1);

        await stopAll(inboxes);
        await p.stop();
        await p.start();
        inboxes = [await recipient(p, 'bob', 'bobpass')];
        const fresh = inboxes[0] as Inbox;
        await waitFor(
          async () => {
            await session.send('after restart', signal()).catch(() => undefined);
            return fresh.messages.some((m) => m.body === 'after restart');
          },
          { what: 'delivery after the restart', timeoutMs: 20_000, intervalMs: 200 },
        );
        assert.ok(session.connects >= 2);
      } finally {
        await session.close();
      }
    });

    await t.test('a wrong password fails the run, logged with the alarm name, with no retry loop', async () => {
      const host = testHost({ resolveAction: async (prefix) => xmppPlugin.actions?.[prefix] });
      const sub = await AlarmSubsystem.create(
        alarmConfig({
          alarms: [{ name: 'badpw', action: 'xmpp', args: `alice@${p.domain};wrong;bob@${p.domain};service=xmpp://127.0.0.1:${p.port}` }],
          logAlarms: [{ alarms: ['badpw'], pattern: 'ERR', negate: false }],
        }),
        host,
      );
      try {
        sub.onLine('ERR one', 1);
        const rec = await host.log.waitFor((r) => r.level === 'error' && r.msg.includes('alarm "badpw" (xmpp) failed'));
        assert.match(rec.msg, /cannot open a session: not-authorized/);
        assert.equal(sub.stats().failed.badpw, 1);
      } finally {
        await sub.close();
      }
    });
  } finally {
    await stopAll(inboxes);
    await p.cleanup();
  }
});

test('xmpp: an unreachable server fails the run within its deadline', async () => {
  const session = new XmppSession(parseXmppArgs('a@nowhere.invalid;p;b@nowhere.invalid;service=xmpp://127.0.0.1:1'), new MemoryLogger());
  try {
    await assert.rejects(session.send('x', AbortSignal.timeout(10_000)), (err: unknown) => err instanceof EmperorError && /ECONNREFUSED|cannot open a session/.test(err.message));
  } finally {
    await session.close();
  }
});
