/** The alarm subsystem fed blocks of lines, as a vassal feeds it a worker's output. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlarmSubsystem } from '../../src/alarms/subsystem.js';
import { ALARM_LOG_PREFIX } from '../../src/alarms/prefix.js';
import type { AlarmActionFactory, TriggerFactory, TriggerHost } from '../../src/plugin.js';
import { waitFor } from '../helpers/wait.js';
import { alarmConfig, testHost } from './host.js';

const block = (lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\n`).join(''));

/** An action that records the messages it is run with. */
function recorder(): { factory: AlarmActionFactory; messages: string[] } {
  const messages: string[] = [];
  return { messages, factory: () => ({ run: async (f) => void messages.push(f.message) }) };
}

test('a block fires for each matching line, in order, with the line as the message', async () => {
  const rec = recorder();
  const sub = await AlarmSubsystem.create(
    alarmConfig({
      alarmFreq: 0,
      alarms: [{ name: 'r', action: 'rec', args: '' }],
      logAlarms: [{ alarms: ['r'], pattern: 'ignored', negate: true }, { alarms: ['r'], pattern: '^(FATAL|ошибка)', negate: false }],
    }),
    testHost({ actions: { rec: rec.factory } }),
  );
  try {
    const lines = Array.from({ length: 3000 }, (_, i) => (i % 500 === 7 ? `FATAL number ${i}` : `line ${i} ok`));
    lines.push('ошибка: ☕ spilled', 'FATAL but ignored', `FATAL ${ALARM_LOG_PREFIX} from an alarm`, 'FATAL last');
    sub.onLines(block(lines), 1);
    // The alarm's lane runs its actions one after the other.
    await waitFor(() => rec.messages.length >= 8, { what: 'eight firings' });
    assert.deepEqual(rec.messages, ['FATAL number 7', 'FATAL number 507', 'FATAL number 1007', 'FATAL number 1507', 'FATAL number 2007', 'FATAL number 2507', 'ошибка: ☕ spilled', 'FATAL last']);
  } finally {
    await sub.close();
  }
});

test('line triggers of plugins get each line of a block; alarm output is kept from them', async () => {
  let host: TriggerHost | undefined;
  const seen: string[] = [];
  const trigger: TriggerFactory = (_values, h) => {
    host = h;
    h.onLine((line, pid) => seen.push(`${pid}:${line}`));
    return { close: () => {} };
  };
  const sub = await AlarmSubsystem.create(alarmConfig({ alarms: [{ name: 'm', action: 'log', args: '' }], alarmMemory: ['m 1G'] }), testHost({ triggers: { 'alarm-memory': trigger } }));
  try {
    assert.ok(host);
    sub.onLines(block(['one', `${ALARM_LOG_PREFIX} an alarm's own output`, 'twö']), 9);
    assert.deepEqual(seen, ['9:one', '9:twö']);
  } finally {
    await sub.close();
  }
});
