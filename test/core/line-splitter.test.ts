import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUtf8 } from 'node:buffer';
import { countLines, LineSplitter, linesOf } from '../../src/core/line-splitter.js';

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

/** The blocks a splitter hands on, for the given chunks. */
function blocks(chunks: (string | Buffer)[], maxLine?: number): Buffer[] {
  const out: Buffer[] = [];
  const s = new LineSplitter({ block: (b) => out.push(b) }, maxLine);
  for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  s.flush();
  return out;
}

test('the whole lines of one read come as one block, byte for byte, the partial line joining the next', () => {
  assert.deepEqual(blocks(['a\nbb\ncc', 'c\nd\n', 'tail']).map((b) => b.toString()), ['a\nbb\n', 'ccc\nd\n', 'tail\n']);
  assert.deepEqual(linesOf(Buffer.from('x\n\ny\n')), ['x', '', 'y']);
  assert.deepEqual(linesOf(Buffer.alloc(0)), []);
});

test('a block holds its own copy: reusing the chunk afterwards changes nothing', () => {
  const chunk = Buffer.from('one\ntwo\n');
  const [b] = blocks([chunk]);
  chunk.fill(0x21);
  assert.equal(b!.toString(), 'one\ntwo\n');
});

test('blocks carry the same lines as line-by-line splitting: CR dropped, long lines cut, bad UTF-8 replaced', () => {
  const chunks = ['ok\r\n', 'x'.repeat(30), 'y'.repeat(30), '\nshort\n', Buffer.from([0x61, 0xff, 0x62, 0x0a]), 'ünï\r\ncodé ☕\n', 'z'.repeat(50) + '\nend'];
  const byLine = split(chunks, 40);
  const byBlock = blocks(chunks, 40).flatMap((b) => {
    assert.ok(isUtf8(b), 'a block is valid UTF-8');
    assert.equal(b[b.length - 1], 10, 'a block ends with a newline');
    return linesOf(b);
  });
  assert.deepEqual(byBlock, byLine);
  assert.deepEqual(byLine, [
    'ok',
    'x'.repeat(30) + 'y'.repeat(10) + ' [line truncated: 20 more bytes]',
    'short',
    'a\ufffdb',
    'ünï',
    'codé ☕',
    'z'.repeat(40) + ' [line truncated: 10 more bytes]',
    'end',
  ]);
});

test('many lines in random chunks: the blocks joined are the data, in order, none lost', () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `${i} ${'é'.repeat(i % 13)}${'p'.repeat(i % 101)}`);
  const all = Buffer.from(lines.join('\n') + '\n');
  const chunks: Buffer[] = [];
  for (let i = 0, size = 1; i < all.length; i += size, size = ((size * 7 + 3) % 65536) + 1) chunks.push(all.subarray(i, i + size));
  const got = blocks(chunks);
  assert.ok(got.length < chunks.length + 1);
  assert.ok(Buffer.concat(got).equals(all), 'byte for byte');
  assert.equal(countLines(Buffer.concat(got)), lines.length);
});
