/**
 * The safety rescan as it runs beside a trusted watcher: each pass lists the directory (or, while
 * the directory is unchanged, reuses its listing) and stats one slice of the files in turn. With
 * no watcher at all every change below is one the watcher "missed", so each must still be found.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirMonitorWith } from '../../src/monitors/dir.js';
import type { MonitorEvent } from '../../src/monitors/types.js';
import { withTempDir } from '../helpers/wait.js';
import { Recorder, isSnapshot, names, specIn, testContext, type Snapshot } from './harness.js';

const INI = '[vassal]\ncommand = node app.js\n';
const FILES = 45;

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('emperor-rescan-', fn);

function snapshotWhere(pred: (s: Snapshot) => boolean) {
  return (e: MonitorEvent): e is Snapshot => isSnapshot(e) && pred(e);
}

test('a sliced rescan finds additions, removals and edits the watcher never reported', async () => {
  await withDir(async (dir) => {
    for (let i = 0; i < FILES; i++) await writeFile(join(dir, `app${i}.ini`), INI);
    const rec = new Recorder(createDirMonitorWith(dir, testContext({ freq: 0.05 }), { watch: false, sliceRescans: true }));
    try {
      const first = await rec.snapshot();
      assert.equal(first.specs.length, FILES);
      // Three seconds of rescans: the directory's times are old enough for its listing to be reused.
      await rec.next(snapshotWhere(() => rec.events.filter(isSnapshot).length > 60), 'sixty rescans', 0, 30_000);

      let m = rec.mark;
      await writeFile(join(dir, 'new.ini'), INI);
      await unlink(join(dir, 'app3.ini'));
      const listed = await rec.next(snapshotWhere((s) => names(s).includes('new.ini') && !names(s).includes('app3.ini')), 'a rescan with the addition and the removal', m);
      assert.equal(listed.specs.length, FILES);

      // An edit leaves the listing as it is: only the stat of its slice finds it.
      m = rec.mark;
      const later = new Date(Date.now() + 5000);
      await writeFile(join(dir, 'app7.ini'), INI + 'processes = 2\n');
      await utimes(join(dir, 'app7.ini'), later, later);
      await rec.next(snapshotWhere((s) => specIn(s, 'app7.ini')?.config.text.includes('processes = 2') === true), 'a rescan with the edit', m, 30_000);
    } finally {
      await rec.stop();
    }
  });
});
