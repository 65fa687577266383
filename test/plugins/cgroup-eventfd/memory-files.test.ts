/**
 * Reading a cgroup's usage files: the same answer from the asynchronous read (sampling) and from
 * the one taken on the event loop at an eventfd notification.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBytes, readBytesNow } from '../../../plugins/cgroup-eventfd/memory-files.js';
import { tempDir } from '../../helpers/wait.js';

describe('memory usage files', () => {
  it('a number is read as bytes; "max", an empty read and a removed cgroup are no reading', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const cases: Array<[string, string | undefined, number | undefined]> = [
        ['usage', '104857600\n', 104857600],
        ['max', 'max\n', undefined],
        ['empty', '', undefined],
        ['gone', undefined, undefined],
      ];
      for (const [name, text, want] of cases) {
        const file = join(dir, name);
        if (text !== undefined) await writeFile(file, text);
        assert.equal(readBytesNow(file), want, `${name} (on the loop)`);
        assert.equal(await readBytes(file), want, `${name} (thread pool)`);
      }
    } finally {
      await cleanup();
    }
  });
});
