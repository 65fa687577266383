import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEmperorError } from '../../../src/errors.js';
import { maskAmqpPassword, parseAmqpTarget } from '../../../plugins/amqp/target.js';
import plugin from '../../../plugins/amqp/index.js';

test('defaults: guest on / at port 5672, fanout exchange uwsgi.emperor bound with an empty key', () => {
  const t = parseAmqpTarget('amqp://127.0.0.1');
  assert.equal(t.id, 'amqp://127.0.0.1');
  assert.deepEqual(t.connect, { protocol: 'amqp', hostname: '127.0.0.1', port: 5672, vhost: '/', heartbeat: 10 });
  assert.equal(t.exchange, 'uwsgi.emperor');
  assert.equal(t.type, 'fanout');
  assert.deepEqual(t.bindings, ['']);
  assert.equal(t.durable, false);
});

test('credentials, vhost and options come from the URL; the id masks the password', () => {
  const t = parseAmqpTarget('amqp://deploy:s%40cret@mq.example:5673/prod%2Fapps?exchange=fleet&type=topic&binding=web.%23&binding=db.*&durable=true&heartbeat=30');
  assert.equal(t.id, 'amqp://deploy:***@mq.example:5673/prod%2Fapps?exchange=fleet&type=topic&binding=web.%23&binding=db.*&durable=true&heartbeat=30');
  assert.deepEqual(t.connect, { protocol: 'amqp', hostname: 'mq.example', port: 5673, vhost: 'prod/apps', heartbeat: 30, username: 'deploy', password: 's@cret' });
  assert.equal(t.exchange, 'fleet');
  assert.equal(t.type, 'topic');
  assert.deepEqual(t.bindings, ['web.#', 'db.*']);
  assert.equal(t.durable, true);
});

test('a topic exchange binds # unless told otherwise; amqps defaults to port 5671', () => {
  assert.deepEqual(parseAmqpTarget('amqp://h?type=topic').bindings, ['#']);
  assert.deepEqual(parseAmqpTarget('amqp://h?type=direct').bindings, ['']);
  const s = parseAmqpTarget('amqps://u:p@h');
  assert.equal(s.connect.protocol, 'amqps');
  assert.equal(s.connect.port, 5671);
});

test('bad arguments are refused naming the option, what was expected and what came', () => {
  const cases: Array<[string, RegExp]> = [
    ['amqp://h?exchnage=x', /unknown query parameter "exchnage": expected one of exchange, type/],
    ['amqp://h?type=headers', /type is "headers", expected one of fanout, direct, topic/],
    ['amqp://h?exchange=', /exchange is "": expected a name/],
    ['amqp://h?durable=yes', /durable is "yes", expected true or false/],
    ['amqp://h?heartbeat=-1', /heartbeat is "-1", expected whole seconds/],
    ['amqp://h?type=topic&type=fanout', /type is given 2 times/],
    ['http://h', /scheme is http:, expected amqp: or amqps:/],
    ['not a url', /is not a URL/],
  ];
  for (const [arg, message] of cases) {
    assert.throws(() => parseAmqpTarget(arg), (err) => isEmperorError(err, 'EMP_ERR_USAGE') && message.test(err.message), arg);
  }
  assert.throws(() => parseAmqpTarget('amqp://u:topsecret@h?type=x'), (err) => err instanceof Error && !err.message.includes('topsecret'));
});

test('maskAmqpPassword leaves URLs without a password alone', () => {
  assert.equal(maskAmqpPassword('amqp://u@h/v'), 'amqp://u@h/v');
  assert.equal(maskAmqpPassword('amqp://u:p@h/v'), 'amqp://u:***@h/v');
});

test('the plugin descriptor maps the amqp schemes to the monitor', () => {
  assert.equal(plugin.name, 'amqp');
  assert.equal(typeof plugin.monitors?.amqp, 'function');
  assert.equal(typeof plugin.monitors?.amqps, 'function');
});
