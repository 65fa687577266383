/** The README's first command: the example fleet runs with no external service. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmperorProcess } from './helpers/emperor-process.js';
import { canConnect } from './helpers/wait.js';

test('emperor vassals-example/ runs four vassals, one per format, and the web one answers', async (t) => {
  if (await canConnect(8080)) {
    t.skip('port 8080 is taken by another program on this machine; the example web vassal needs it');
    return;
  }
  const emp = new EmperorProcess(['vassals-example/']);
  try {
    const ready = await Promise.all(['web.ini', 'worker.yaml', 'pool.json', 'clock.xml'].map((n) => emp.event(n, 'ready')));
    assert.equal((ready[2]!.pids as number[]).length, 3, 'the pool runs three processes');
    const res = await fetch('http://127.0.0.1:8080/');
    assert.match(await res.text(), /^hello from web\.ini \(worker 1, up \d+ s\)/);
    await emp.line('worker.yaml', /^processed job 1$/);
    await emp.line('clock.xml', /^the time is /);
    const members = await Promise.all([1, 2, 3].map((i) => emp.line('pool.json', new RegExp(`^pool member ${i} ready$`))));
    assert.equal(members.length, 3);
    const exit = await emp.stop();
    assert.equal(exit.code, 0);
  } finally {
    await emp.stop();
  }
});
