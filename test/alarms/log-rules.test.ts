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

/** Hits of matchBlock, as [alarms, message] pairs. */
function blockHits(rules: LogRules, lines: string[]): Array<[string[], string]> {
  const out: Array<[string[], string]> = [];
  rules.matchBlock(Buffer.from(lines.map((l) => `${l}\n`).join('')), (alarms, line) => out.push([[...alarms], line]));
  return out;
}

function lineHits(rules: LogRules, lines: string[]): Array<[string[], string]> {
  const out: Array<[string[], string]> = [];
  for (const l of lines) rules.match(l, (alarms, line) => out.push([[...alarms], line]));
  return out;
}

test('rules match UTF-8 lines as bytes: multibyte patterns and lines, the message is the line', () => {
  const rules = LogRules.compile([rule('u', 'ошибка \\d+'), rule('c', '^café.$'), rule('e', '☕+')]);
  assert.ok(rules);
  const got: string[] = [];
  rules.matchBytes(Buffer.from('произошла ошибка 42'), (a, line) => got.push(`${a.join()}:${line}`));
  rules.matchBytes(Buffer.from('café☕'), (a, line) => got.push(`${a.join()}:${line}`));
  rules.matchBytes(Buffer.from('cafe!'), (a, line) => got.push(`${a.join()}:${line}`));
  assert.deepEqual(got, ['u:произошла ошибка 42', 'c:café☕', 'e:café☕']);
});

test('a line longer than maxLineLength is cut there in bytes, never inside a character', () => {
  const rules = LogRules.compile([rule('tail', 'NEEDLE'), rule('any', '^é+$')], { maxLineLength: 9 });
  assert.ok(rules);
  const got: string[] = [];
  // 'é' is 2 bytes: byte 9 falls inside the fifth, which the rules do not see.
  rules.match('éééééNEEDLE', (a, line) => got.push(`${a.join()}:${line}`));
  rules.match('NEEDLE' + 'é'.repeat(9), (a, line) => got.push(`${a.join()}:${line}`));
  assert.deepEqual(got, ['any:éééé', 'tail:NEEDLEé']);
});

test('a block of lines fires exactly what its lines fire one by one, in line order', () => {
  const rules = LogRules.compile([
    rule('start', '^FATAL'),
    rule('end', 'done$'),
    rule('quiet', 'FATAL.*expected', true),
    rule('later', 'FATAL|ошибка'),
    rule('word', '\\bcat\\b'),
    rule('empty', '^$'),
  ]);
  assert.ok(rules);
  const pool = ['FATAL: disk', 'not FATAL at start', 'FATAL expected', 'all done', 'done not at end', 'ошибка 7', 'concatenate', 'a cat', '', 'plain line', 'é'.repeat(200)];
  const lines = Array.from({ length: 5000 }, (_, i) => (i % 97 === 0 ? pool[(i / 97) % pool.length]! : `${i} GET /x?id=${i} 200 ${'p'.repeat(i % 50)}`));
  const expected = lineHits(rules, lines);
  assert.ok(expected.length > 30, `${expected.length} hits`);
  assert.deepEqual(blockHits(rules, lines), expected);
  assert.deepEqual(blockHits(rules, lines.slice(0, 3)), lineHits(rules, lines.slice(0, 3)));
});

test('patterns a block would read otherwise (\\A, \\z, multi-line mode off) stay exact', () => {
  const rules = LogRules.compile([rule('a', '\\AFATAL'), rule('z', 'end\\z'), rule('m', '(?-m:^boom$)')]);
  assert.ok(rules);
  const lines = ['x', 'FATAL one', 'the end', 'boom', 'x FATAL', 'end x', ...Array.from({ length: 3000 }, (_, i) => `filler ${i}`), 'FATAL two'];
  const expected = lineHits(rules, lines);
  assert.deepEqual(expected.map(([a, l]) => `${a.join()}:${l}`), ['a:FATAL one', 'z:the end', 'm:boom', 'a:FATAL two']);
  assert.deepEqual(blockHits(rules, lines), expected);
});
