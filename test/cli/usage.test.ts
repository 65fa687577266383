import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { CLI, ROOT } from '../helpers/emperor-process.js';
import { tempDir } from '../helpers/wait.js';

function emperor(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('a missing directory is a usage error naming it (exit 2)', () => {
  const r = emperor('/nonexistent/vassals');
  assert.equal(r.code, 2);
  assert.match(r.err, /\/nonexistent\/vassals/);
});

test('an unknown scheme is a usage error listing the known ones (exit 2)', () => {
  const r = emperor('ftp://example/vassals');
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown monitor scheme 'ftp:\/\/'/);
  assert.match(r.err, /pg:\/\//);
});

test('no monitor at all is a usage error (exit 2)', () => {
  const r = emperor();
  assert.equal(r.code, 2);
  assert.match(r.err, /no monitor given/);
});

test('a bad option value names the option and what was expected (exit 2)', () => {
  const r = emperor('--freq', 'soon', '/tmp');
  assert.equal(r.code, 2);
  assert.match(r.err, /--freq expects a positive number, got 'soon'/);
});

test('a bad --vassal-set or unreadable --vassals-include is a usage error (exit 2)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    assert.equal(emperor(dir, '--vassal-set', 'novalue').code, 2);
    const r = emperor(dir, '--vassals-include', '/nonexistent/base.ini');
    assert.equal(r.code, 2);
    assert.match(r.err, /--vassals-include \/nonexistent\/base\.ini/);
  } finally {
    await cleanup();
  }
});

test('--help documents every option with its default', () => {
  const r = emperor('--help');
  assert.equal(r.code, 0);
  for (const opt of ['--freq', '--extra-extension', '--throttle', '--max-throttle', '--throttle-reset', '--vassals-include', '--vassal-set', '--settle', '--max-config-size', '--node-name', '--state-dir', '--log-format', '--log-level', '--plugin', '--recent-lines', '--stats', '--stats-http', '--control', '--no-control']) {
    assert.match(r.out, new RegExp(opt.replace(/-/g, '\\-') + '\\b'), `${opt} documented`);
  }
  assert.match(r.out, /--freq <seconds>.*\(default:\s+3\)/s);
  assert.match(r.out, /--throttle <ms>.*\(default:\s+1000\)/s);
  assert.match(r.out, /--max-throttle <ms>.*\(default:\s+180000\)/s);
  assert.match(r.out, /--control <path>.*default:\s+\/\S+\/control\.sock/s);
  for (const cmd of ['status', 'touch', 'destroy', 'reload-all', 'unthrottle', 'logs', 'metrics', 'top']) {
    assert.match(r.out, new RegExp(`^  ${cmd}\\b`, 'm'), `subcommand ${cmd} listed`);
  }
});

test('every control subcommand documents --control and its own options', () => {
  for (const [cmd, opts] of [['status', ['--json']], ['logs', ['--follow', '--lines']], ['metrics', ['--influx', '--json']], ['top', ['--interval', '--once', '--sort']], ['unthrottle', []], ['touch', []], ['destroy', []], ['reload-all', []]] as const) {
    const r = emperor(cmd, '--help');
    assert.equal(r.code, 0, `${cmd} --help`);
    for (const o of ['--control', ...opts]) assert.match(r.out, new RegExp(o.replace(/-/g, '\\-') + '\\b'), `${cmd} ${o}`);
  }
});

test('--stats with a bad address, or --stats-http alone, is a usage error (exit 2)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const bad = emperor(dir, '--no-control', '--stats', 'localhost:notaport');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--stats expects HOST:PORT, :PORT or a unix socket path, got 'localhost:notaport'/);
    const alone = emperor(dir, '--no-control', '--stats-http');
    assert.equal(alone.code, 2);
    assert.match(alone.err, /--stats-http needs --stats/);
  } finally {
    await cleanup();
  }
});
