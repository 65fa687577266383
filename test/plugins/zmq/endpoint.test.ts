import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEmperorError } from '../../../src/errors.js';
import { parseZmqTarget } from '../../../plugins/zmq/endpoint.js';
import plugin from '../../../plugins/zmq/index.js';

test('the endpoint is what follows zmq://; the id is the argument', () => {
  assert.deepEqual(parseZmqTarget('zmq://tcp://127.0.0.1:5252'), { id: 'zmq://tcp://127.0.0.1:5252', endpoint: 'tcp://127.0.0.1:5252' });
  assert.deepEqual(parseZmqTarget('zmq://tcp://*:5252'), { id: 'zmq://tcp://*:5252', endpoint: 'tcp://*:5252' });
  assert.deepEqual(parseZmqTarget('zmq://tcp://[::1]:5252').endpoint, 'tcp://[::1]:5252');
  assert.deepEqual(parseZmqTarget('zmq://ipc:///run/emperor.sock'), { id: 'zmq://ipc:///run/emperor.sock', endpoint: 'ipc:///run/emperor.sock' });
  assert.deepEqual(parseZmqTarget('tcp://127.0.0.1:5252'), { id: 'zmq://tcp://127.0.0.1:5252', endpoint: 'tcp://127.0.0.1:5252' });
});

test('bad endpoints are refused naming what was expected', () => {
  const cases: Array<[string, RegExp]> = [
    ['zmq://tcp://127.0.0.1', /is not HOST:PORT/],
    ['zmq://tcp://127.0.0.1:99999', /port 99999 is out of range/],
    ['zmq://ipc://', /ipc path is empty/],
    ['zmq://udp://127.0.0.1:5', /transport of "udp:\/\/127\.0\.0\.1:5" is not tcp:\/\/ or ipc:\/\//],
    ['zmq://', /is not tcp:\/\/ or ipc:\/\//],
  ];
  for (const [arg, message] of cases) {
    assert.throws(() => parseZmqTarget(arg), (err) => isEmperorError(err, 'EMP_ERR_USAGE') && message.test(err.message) && /expected zmq:\/\/tcp:\/\/HOST:PORT/.test(err.message), arg);
  }
});

test('the plugin descriptor maps zmq to the monitor', () => {
  assert.equal(plugin.name, 'zmq');
  assert.equal(typeof plugin.monitors?.zmq, 'function');
});
