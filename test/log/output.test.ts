/** Vassal lines written to a logto file and to the emperor's output, a read's lines in one write. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConsoleOutput, FileOutput, openDestination } from '../../src/log/output.js';
import { tempDir } from '../helpers/wait.js';

const block = (lines: string[]): Buffer => Buffer.from(lines.map((l) => `${l}\n`).join(''));

test('logto: the lines of each block arrive whole, in order, byte for byte, each block in one write', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const file = join(dir, 'app.log');
    const out = new FileOutput(file);
    await out.ready();
    const writes: number[] = [];
    (out as unknown as { dest: NodeJS.EventEmitter }).dest.on('write', (n: number) => writes.push(n));
    const expected: string[] = [];
    for (let b = 0; b < 20; b++) {
      const lines = Array.from({ length: 1000 }, (_, i) => `${b}-${i} GET /x?q=${'é'.repeat(i % 7)} 200`);
      expected.push(...lines);
      out.lines('app.ini', 1, block(lines));
      out.line('app.ini', 1, `single ${b} ☕`);
      expected.push(`single ${b} ☕`);
    }
    await out.close();
    assert.equal(await readFile(file, 'utf8'), expected.map((l) => `${l}\n`).join(''));
    // A write takes at least one whole block (more when the file was still busy with the last).
    assert.ok(writes.length <= 40, `${writes.length} writes for 40 blocks`);
    assert.equal(out.dropped, 0);
  } finally {
    await cleanup();
  }
});

for (const json of [false, true]) {
  test(`the emperor's output (${json ? 'JSON records' : 'text'}): a block's lines in order, each its own record`, async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, 'out');
      const fd = openSync(file, 'w');
      const out = new ConsoleOutput(openDestination(fd), json);
      const lines = ['first', 'with "quotes" and \\ backslash', 'ünïcödé ☕', '', 'last'];
      out.lines('app.ini', 42, block(lines));
      out.line('app.ini', 42, 'one more');
      await out.close();
      closeSync(fd);
      const text = await readFile(file, 'utf8');
      if (json) {
        const recs = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { vassal: string; pid: number; line: string; time: string });
        assert.deepEqual(recs.map((r) => r.line), [...lines, 'one more']);
        assert.ok(recs.every((r) => r.vassal === 'app.ini' && r.pid === 42 && !Number.isNaN(Date.parse(r.time))));
      } else {
        assert.equal(text, [...lines, 'one more'].map((l) => `app.ini[42] ${l}\n`).join(''));
      }
    } finally {
      await cleanup();
    }
  });
}
