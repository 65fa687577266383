import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { parseCurlArgs } from '../../../plugins/curl/options.js';
import { EmperorError, ErrorCodes } from '../../../src/errors.js';

test('the seed examples parse', () => {
  const mail = parseCurlArgs('smtp://mail.example.com;mail_to=admin@example.com;mail_from=uwsgi@example.com;auth_user=uwsgi;auth_pass=secret;subject=alarm from uWSGI !!!');
  assert.deepEqual(mail.target, {
    kind: 'smtp', host: 'mail.example.com', port: 25, secure: false, requireTls: false, ehloName: hostname(),
    from: 'uwsgi@example.com', to: ['admin@example.com'], subject: 'alarm from uWSGI !!!',
  });
  assert.equal(mail.user, 'uwsgi');
  assert.equal(mail.pass, 'secret');
  assert.equal(mail.display, 'smtp://mail.example.com');

  const gmail = parseCurlArgs('smtps://smtp.gmail.com;mail_to=admin@example.com;auth_user=uwsgi@gmail.com;auth_pass=secret;subject=alarm from uWSGI !!!');
  assert.equal(gmail.target.kind === 'smtp' && gmail.target.port, 465);
  assert.equal(gmail.target.kind === 'smtp' && gmail.target.secure, true);

  const put = parseCurlArgs('http://192.168.173.6:9191/argh;auth_user=topogigio;auth_pass=foobar');
  assert.equal(put.target.kind === 'http' && put.target.method, 'PUT');
  assert.equal(put.user, 'topogigio');

  const post = parseCurlArgs('https://192.168.173.6/argh;method=POST;ssl_insecure=true');
  assert.equal(post.target.kind === 'http' && post.target.method, 'POST');
  assert.equal(post.insecure, true);
});

test('every option of the seed is understood', () => {
  const o = parseCurlArgs('smtp://h:2525/relay.example;url=smtp://other:2526/x;auth_user=u;auth_pass=p;conn_timeout=2;timeout=7.5;mail_from=a@b;mail_to=x@y, z@w;ssl=1;ssl_insecure=yes;subject=S');
  assert.equal(o.connTimeoutMs, 2000);
  assert.equal(o.timeoutMs, 7500);
  assert.equal(o.insecure, true);
  assert.ok(o.target.kind === 'smtp');
  assert.equal(o.target.host, 'other');
  assert.equal(o.target.port, 2526);
  assert.equal(o.target.requireTls, true);
  assert.equal(o.target.ehloName, 'x');
  assert.deepEqual(o.target.to, ['x@y', 'z@w']);
});

test('credentials in the URL work and never show', () => {
  const o = parseCurlArgs('https://bob:s%40cret@example.com/hook?x=1');
  assert.equal(o.user, 'bob');
  assert.equal(o.pass, 's@cret');
  assert.equal(o.display, 'https://example.com/hook?x=1');
  assert.ok(o.target.kind === 'http' && !o.target.url.href.includes('cret'));
});

for (const [args, what] of [
  ['', /expected a URL/],
  ['ftp://x', /scheme "ftp"/],
  ['not a url', /expected an http/],
  ['http://x;bogus=1', /unknown option "bogus"/],
  ['http://x;justaword', /expected key=value/],
  ['http://x;mail_to=a@b', /mail_to applies to smtp/],
  ['http://x;ssl=1', /use an https:\/\/ URL/],
  ['http://x;method=P O', /method: expected an HTTP method/],
  ['http://x;timeout=soon', /timeout: expected a number of seconds/],
  ['http://x;ssl_insecure=maybe', /ssl_insecure: expected true or false/],
  ['smtp://x', /mail_to: an smtp:\/\/ URL needs at least one recipient/],
  ['smtp://x;mail_to=a@b;method=POST', /method applies to http/],
] as const) {
  test(`bad arguments are config errors: ${JSON.stringify(args)}`, () => {
    assert.throws(() => parseCurlArgs(args), (err: unknown) => err instanceof EmperorError && err.code === ErrorCodes.CONFIG_INVALID && what.test(err.message));
  });
}
