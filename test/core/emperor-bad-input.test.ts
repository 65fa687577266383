/**
 * Bad input of every kind is reported with file, line where there is one, and reason; the emperor
 * keeps running and the other vassals are untouched.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EmperorProcess, FIXTURES, type Record_ } from '../helpers/emperor-process.js';
import { alive } from '../helpers/procs.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { tempDir } from '../helpers/wait.js';

describe('bad configs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let emp: EmperorProcess;
  let goodPid: number;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    emp = new EmperorProcess([dir]);
    await writeVassal(dir, 'good.ini', nodeVassal(join(FIXTURES, 'ticker.mjs')));
    goodPid = ((await emp.event('good.ini', 'ready')).pids as number[])[0]!;
  });
  after(async () => {
    // The good vassal was never disturbed.
    assert.ok(await alive(goodPid), 'the good vassal kept running through every bad config');
    assert.equal(emp.records.filter((r) => r.vassal === 'good.ini' && (r.event === 'stop' || r.event === 'crash' || r.event === 'reload')).length, 0);
    await emp.stop();
    await cleanup();
  });

  const errorOf = (name: string): Promise<Record_> =>
    emp.waitFor((r) => r.level === 'error' && r.vassal === name, `an error about ${name}`);

  test('bad syntax names the file and line', async () => {
    const p = await writeVassal(dir, 'syntax.ini', '[vassal]\ncommand = /bin/true\nthis line is not ini\n');
    assert.match((await errorOf('syntax.ini')).msg!, new RegExp(`${p.replace(/[.]/g, '\\.')}:3: `));
  });

  test('an unknown key names it and the closest known one', async () => {
    await writeVassal(dir, 'unknown.ini', '[vassal]\ncommand = /bin/true\nstop-timout = 3\n');
    assert.match((await errorOf('unknown.ini')).msg!, /unknown\.ini:3: .*stop-timout.*stop-timeout/);
  });

  test('a wrong type names the key, what was expected and what came', async () => {
    await writeVassal(dir, 'type.yaml', 'vassal:\n  command: /bin/true\n  processes: two\n');
    assert.match((await errorOf('type.yaml')).msg!, /processes.*integer.*two/);
  });

  test('a command that does not exist', async () => {
    await writeVassal(dir, 'nocmd.ini', '[vassal]\ncommand = no-such-program-here --flag\n');
    assert.match((await errorOf('nocmd.ini')).msg!, /nocmd\.ini:2: command: 'no-such-program-here' not found in PATH/);
  });

  test('binary garbage', async () => {
    await writeFile(join(dir, 'garbage.ini'), Buffer.from([0x00, 0xff, 0xfe, 0x13, 0x37, 0x00, 0x80, 0x81, 0x0a]));
    assert.match((await errorOf('garbage.ini')).msg!, /garbage\.ini/);
  });

  test('a 50 MB file', async () => {
    await writeFile(join(dir, 'huge.ini'), Buffer.alloc(50 * 1024 * 1024, 'a'));
    assert.match((await errorOf('huge.ini')).msg!, /huge\.ini.*(large|size|bytes)/i);
  });

  test('a symlink loop', async () => {
    await symlink(join(dir, 'loop-b.ini'), join(dir, 'loop-a.ini'));
    await symlink(join(dir, 'loop-a.ini'), join(dir, 'loop-b.ini'));
    assert.match((await errorOf('loop-a.ini')).msg!, /loop-a\.ini/);
  });

  test('a directory named x.ini', async () => {
    await mkdir(join(dir, 'x.ini'));
    assert.match((await errorOf('x.ini')).msg!, /x\.ini.*director/i);
  });

  test('a missing section', async () => {
    await writeVassal(dir, 'nosection.ini', '[other]\ncommand = /bin/true\n');
    assert.match((await errorOf('nosection.ini')).msg!, /nosection\.ini.*\[vassal\]/);
  });

  test('the emperor is still governing: a good vassal added after all that starts', async () => {
    await writeVassal(dir, 'late.ini', nodeVassal(join(FIXTURES, 'ticker.mjs'), 'ready = alive:10'));
    await emp.event('late.ini', 'ready');
  });
});
