import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogRules } from '../../src/alarms/log-rules.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import type { LogAlarmRule } from '../../src/config/types.js';

function rule(alarms: string, pattern: string, negate = false, line?: number): LogAlarmRule {
  return { alarms: alarms.split(','), pattern, negate, ...(line !== undefined ? { line } : {}) };
}

function hits(rules: LogRules, line: string): string[][] {
  const out: string[][] = [];
  rules.match(line, (alarms) => out.push([...alarms]));
  return out;
}

test('log-alarm rules fire in config order, every matching rule', () => {
  const rules = LogRules.compile([rule('a,b', 'listen queue of socket'), rule('b', '^FATAL'), rule('c', 'FATAL.*disk')]);
  assert.ok(rules);
  assert.deepEqual(hits(rules, 'FATAL: disk on fire'), [['b'], ['c']]);
  assert.deepEqual(hits(rules, 'uWSGI listen queue of socket ":80" full'), [['a', 'b']]);
  assert.deepEqual(hits(rules, 'all is well'), []);
});

test('not-log-alarm stops the later rules only, whatever names it gives (uWSGI break)', () => {
  const rules = LogRules.compile([
    rule('early', 'ERROR'),
    rule('x', 'ERROR.*harmless', true),
    rule('late', 'ERROR'),
  ]);
  assert.ok(rules);
  assert.deepEqual(hits(rules, 'ERROR something harmless'), [['early']]);
  assert.deepEqual(hits(rules, 'ERROR something bad'), [['early'], ['late']]);
});

test('a not-log-alarm placed first silences the line entirely', () => {
  const rules = LogRules.compile([rule('x', 'healthcheck', true), rule('a', 'GET')]);
  assert.ok(rules);
  assert.deepEqual(hits(rules, 'GET /healthcheck 200'), []);
  assert.deepEqual(hits(rules, 'GET /api 500'), [['a']]);
});

test('only not-log-alarm rules (or none) compile to nothing to match', () => {
  assert.equal(LogRules.compile([]), undefined);
  assert.equal(LogRules.compile([rule('x', 'foo', true)]), undefined);
});

for (const [pattern, why] of [
  ['(a)\\1', 'backreference'],
  ['foo(?=bar)', 'lookahead'],
  ['(?<!x)y', 'lookbehind'],
  ['[unclosed', 'syntax'],
] as const) {
  test(`a pattern RE2 rejects (${why}) is a config error naming the pattern and its line`, () => {
    assert.throws(
      () => LogRules.compile([rule('a', 'fine'), rule('a', pattern, false, 12)]),
      (err: unknown) => {
        assert.ok(err instanceof EmperorError);
        assert.equal(err.code, ErrorCodes.CONFIG_INVALID);
        assert.equal(err.line, 12);
        assert.equal(err.key, 'log-alarm');
        assert.ok(err.message.includes(JSON.stringify(pattern)), err.message);
        assert.match(err.message, /line 12/);
        return true;
      },
    );
  });
}

test('an empty pattern is a config error', () => {
  assert.throws(() => LogRules.compile([rule('a', '', true, 3)]), (err: unknown) => err instanceof EmperorError && err.key === 'not-log-alarm' && err.line === 3);
});

test('a hostile pattern on a 100k-character line runs in linear time and never blocks the loop', async () => {
  const rules = LogRules.compile([rule('a', '(a+)+$'), rule('b', '(x+x+)+y'), rule('c', '^(a|aa)+$')], { maxLineLength: 1 << 20 });
  assert.ok(rules);
  const line = `${'a'.repeat(100_000)}!`;
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  const started = performance.now();
  let fired = 0;
  for (let i = 0; i < 50; i++) {
    rules.match(line, () => fired++);
    await new Promise((r) => setImmediate(r));
  }
  const elapsed = performance.now() - started;
  clearInterval(ticker);
  assert.equal(fired, 0);
  // A backtracking engine needs longer than the universe's age for one of these; RE2 takes
  // well under a millisecond per line. The bound is generous for a loaded machine.
  assert.ok(elapsed < 5000, `50 hostile matches took ${elapsed.toFixed(0)} ms`);
  assert.ok(ticks > 0, 'the event loop kept ticking');
});

test('rules see at most maxLineLength characters of a line', () => {
  const rules = LogRules.compile([rule('tail', 'NEEDLE')], { maxLineLength: 1000 });
  assert.ok(rules);
  assert.deepEqual(hits(rules, `${'x'.repeat(999)}NEEDLE`), []);
  assert.deepEqual(hits(rules, `${'x'.repeat(10)}NEEDLE`), [['tail']]);
});

test('unicode patterns and lines', () => {
  const rules = LogRules.compile([rule('u', 'ошибка \\d+')]);
  assert.ok(rules);
  assert.deepEqual(hits(rules, 'произошла ошибка 42'), [['u']]);
});
