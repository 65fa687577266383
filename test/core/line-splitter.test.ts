import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../src/core/line-splitter.js';

function split(chunks: (string | Buffer)[], maxLine?: number): string[] {
  const out: string[] = [];
  const s = new LineSplitter((l) => out.push(l), maxLine);
  for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  s.flush();
  return out;
}

test('whole lines in one chunk', () => {
  assert.deepEqual(split(['a\nbb\nccc\n']), ['a', 'bb', 'ccc']);
});

test('a line split across chunks is joined', () => {
  assert.deepEqual(split(['hel', 'lo wo', 'rld\nnext', '\n']), ['hello world', 'next']);
});

test('a multi-byte character split across chunks survives', () => {
  const bytes = Buffer.from('café ☕\n');
  assert.deepEqual(split([bytes.subarray(0, 4), bytes.subarray(4, 7), bytes.subarray(7)]), ['café ☕']);
});

test('CRLF output loses its CR', () => {
  assert.deepEqual(split(['one\r\ntwo\r\n']), ['one', 'two']);
});

test('a last line without newline is delivered on flush', () => {
  assert.deepEqual(split(['a\nlast']), ['a', 'last']);
});

test('empty lines are kept', () => {
  assert.deepEqual(split(['\n\nx\n']), ['', '', 'x']);
});

test('a very long line is cut at maxLine and says how much was dropped', () => {
  const long = 'x'.repeat(100);
  const out = split([long.slice(0, 30), long.slice(30), '\nafter\n'], 40);
  assert.equal(out.length, 2);
  assert.equal(out[0], 'x'.repeat(40) + ' [line truncated: 60 more bytes]');
  assert.equal(out[1], 'after');
});

test('a long line inside one chunk is cut too', () => {
  const out = split(['y'.repeat(50) + '\nz\n'], 10);
  assert.deepEqual(out, ['y'.repeat(10) + ' [line truncated: 40 more bytes]', 'z']);
});

test('a never-ending line does not grow memory: only maxLine bytes are kept', () => {
  const out: string[] = [];
  const s = new LineSplitter((l) => out.push(l), 1024);
  const chunk = Buffer.alloc(64 * 1024, 'q');
  for (let i = 0; i < 200; i++) s.push(chunk); // 12.5 MiB without a newline
  s.push(Buffer.from('\n'));
  assert.equal(out.length, 1);
  assert.ok(out[0]!.startsWith('q'.repeat(1024) + ' [line truncated: '));
  assert.match(out[0]!, /truncated: 13106176 more bytes/);
});

test('many lines across arbitrary chunk boundaries are neither lost nor split wrongly', () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'p'.repeat(i % 97)}`);
  const all = Buffer.from(lines.join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let i = 0, size = 1; i < all.length; i += size, size = (size * 7 + 3) % 4096 + 1) chunks.push(all.subarray(i, i + size));
  assert.deepEqual(split(chunks), lines);
});
