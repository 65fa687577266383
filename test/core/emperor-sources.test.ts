import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { EmperorProcess, FIXTURES } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { tempDir } from '../helpers/wait.js';

const ticker = join(FIXTURES, 'ticker.mjs');

test('a glob monitor and a dir monitor at once; glob vassals are named by full path', async () => {
  const { dir, cleanup } = await tempDir();
  const apps = join(dir, 'apps');
  const plain = join(dir, 'plain');
  await mkdir(join(apps, 'one', 'conf'), { recursive: true });
  await mkdir(plain);
  const emp = new EmperorProcess([`glob://${apps}/*/conf/app.ini`, plain]);
  try {
    await writeVassal(join(apps, 'one', 'conf'), 'app.ini', nodeVassal(ticker, 'ready = alive:10'));
    await writeVassal(plain, 'p.ini', nodeVassal(ticker, 'ready = alive:10'));
    await emp.event(join(apps, 'one', 'conf', 'app.ini'), 'ready');
    await emp.event('p.ini', 'ready');
    // A directory created later that matches the pattern is picked up.
    await mkdir(join(apps, 'two', 'conf'), { recursive: true });
    await writeVassal(join(apps, 'two', 'conf'), 'app.ini', nodeVassal(ticker, 'ready = alive:10'));
    await emp.event(join(apps, 'two', 'conf', 'app.ini'), 'ready');
    // A bare pattern is a glob too.
    assert.ok(emp.records.some((r) => r.event === 'start' && Array.isArray(r.monitors)));
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('every format starts a vassal, and --extra-extension adds one', async () => {
  const { dir, cleanup } = await tempDir();
  const emp = new EmperorProcess([dir, '--extra-extension', 'conf']);
  try {
    const cmd = `${process.execPath} ${ticker}`;
    await writeVassal(dir, 'i.ini', `[vassal]\ncommand = ${cmd}\nready = alive:10\n`);
    await writeVassal(dir, 'y.yaml', `vassal:\n  command: ${cmd}\n  ready: alive:10\n`);
    await writeVassal(dir, 'y2.yml', `vassal:\n  command: ${cmd}\n  ready: alive:10\n`);
    await writeVassal(dir, 'j.json', JSON.stringify({ vassal: { command: cmd, ready: 'alive:10' } }));
    await writeVassal(dir, 'x.xml', `<vassal><command>${cmd}</command><ready>alive:10</ready></vassal>`);
    await writeVassal(dir, 'e.conf', `[vassal]\ncommand = ${cmd}\nready = alive:10\n`);
    await writeVassal(dir, 'ignored.txt', `[vassal]\ncommand = ${cmd}\n`);
    for (const n of ['i.ini', 'y.yaml', 'y2.yml', 'j.json', 'x.xml', 'e.conf']) await emp.event(n, 'ready');
    assert.equal(emp.records.some((r) => r.vassal === 'ignored.txt'), false);
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('--vassals-include adds shared settings, --vassal-set overrides', async () => {
  const { dir, cleanup } = await tempDir();
  const base = join(dir, '..', `base-${process.pid}-${Date.now()}.ini`);
  await writeFile(base, '[vassal]\nenv = FROM_INCLUDE=yes\nready = alive:10\n');
  const emp = new EmperorProcess([dir, '--vassals-include', base, '--vassal-set', 'env=FROM_SET=1']);
  try {
    await writeVassal(dir, 'env.ini', `[vassal]\ncommand = /bin/sh -c 'echo include=$FROM_INCLUDE set=$FROM_SET; exec sleep 1000'\n`);
    await emp.line('env.ini', /include=yes set=1/);
  } finally {
    await emp.stop();
    await cleanup();
    await import('node:fs/promises').then((f) => f.rm(base, { force: true }));
  }
});

test('atomic saves and a slow writer: the vassal starts once, with the complete file', async () => {
  const { dir, cleanup } = await tempDir();
  const emp = new EmperorProcess([dir]);
  try {
    const { open } = await import('node:fs/promises');
    const fh = await open(join(dir, 'slow.ini'), 'w');
    const text = nodeVassal(ticker, 'env = A=1\nenv = B=2\nready = alive:10');
    for (let i = 0; i < text.length; i += 8) {
      await fh.write(text.slice(i, i + 8));
      await new Promise((r) => setImmediate(r));
    }
    await fh.close();
    await emp.event('slow.ini', 'ready');
    // Editor-style save: write a temp file, rename over.
    await writeFile(join(dir, '.slow.ini.swp'), 'garbage');
    await writeFile(join(dir, 'slow.ini.tmp'), text + 'env = C=3\n');
    const reloaded = emp.nextEvent('slow.ini', 'ready');
    await rename(join(dir, 'slow.ini.tmp'), join(dir, 'slow.ini'));
    await reloaded;
    assert.equal(emp.records.filter((r) => r.vassal === 'slow.ini' && r.event === 'start').length, 1, 'started once');
    assert.equal(emp.records.filter((r) => r.vassal === 'slow.ini' && r.event === 'config-error').length, 0, 'never read half a file');
    assert.equal(emp.records.some((r) => r.vassal === '.slow.ini.swp' || r.vassal === 'slow.ini.tmp'), false);
  } finally {
    await emp.stop();
    await cleanup();
  }
});

test('output is JSON lines when not a terminal: events and vassal lines parse', async () => {
  const { dir, cleanup } = await tempDir();
  const emp = new EmperorProcess([dir]);
  try {
    await writeVassal(dir, 't.ini', nodeVassal(ticker, 'env = INTERVAL=20'));
    await emp.line('t.ini', /^tick 2$/);
    assert.equal(emp.records.filter((r) => r.unparsed).length, 0, 'every output line is JSON');
    const line = emp.records.find((r) => r.line === 'tick 2')!;
    assert.equal(line.vassal, 't.ini');
    assert.equal(typeof line.pid, 'number');
    assert.equal(typeof line.time, 'string');
  } finally {
    await emp.stop();
    await cleanup();
  }
});
