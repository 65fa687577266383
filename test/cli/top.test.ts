/**
 * `emperor top`: one frame with --once, and the live view in a real terminal (tmux): it draws the
 * fleet with CPU and memory, re-sorts on a key, and q quits.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, FIXTURES, ROOT } from '../helpers/emperor-process.js';
import { nodeVassal, writeVassal } from '../helpers/vassal-files.js';
import { inCI, waitFor } from '../helpers/wait.js';
import { cli, startFleet, type Fleet } from '../ops/helpers.js';

const busy = fileURLToPath(new URL('./fixtures/busy.mjs', import.meta.url));

describe('emperor top', () => {
  let f: Fleet;
  before(async () => {
    f = await startFleet();
    await writeVassal(f.dir, 'busy.ini', nodeVassal(busy, 'ready = alive:100'));
    await writeVassal(f.dir, 'idle.ini', nodeVassal(join(FIXTURES, 'ticker.mjs'), 'env = INTERVAL=1000\nready = alive:100'));
    await f.emp.event('busy.ini', 'ready');
    await f.emp.event('idle.ini', 'ready');
  });
  after(() => f.stop());

  test('--once prints one frame: summary, and per vassal state, pids, CPU %, memory, restarts', async () => {
    const r = await cli(['top', '--once', '--interval', '0.5', '--sort', 'cpu', '--control', f.sock]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /\x1b/, 'no terminal control without a terminal');
    const lines = r.out.split('\n');
    assert.match(lines[0]!, /^emperor top {2}\d\d:\d\d:\d\d {2}2 vassals: 2 running$/);
    assert.match(lines[1]!, /^CPU [\d.]+% {2}MEM [\d.]+ MiB {2}restarts 0 {2}alarms 0$/);
    const header = lines.findIndex((l) => l.startsWith('NAME'));
    assert.match(lines[header]!, /^NAME\s+STATE\s+PIDS\s+CPU%\s+MEM\s+UPTIME\s+RESTARTS\s+ALARMS\s+NOTE$/);
    const busyRow = /^busy\.ini\s+running\s+\d+\s+([\d.]+)\s+[\d.]+ MiB\s+\S+( s)?\s+0\s+0$/.exec(lines[header + 1]!);
    assert.ok(busyRow, `the busiest vassal first: ${lines[header + 1]}`);
    assert.ok(Number(busyRow[1]) > 5, `busy.ini burns CPU: ${busyRow[1]}%`);
    assert.match(lines[header + 2]!, /^idle\.ini\s+running\s+\d+\s+[\d.]+\s+[\d.]+ MiB/);
  });

  test('live in a terminal (tmux): draws the fleet, sorts on a key, q quits with status 0', async (t) => {
    if (spawnSync('tmux', ['-V']).status !== 0) {
      if (inCI) assert.fail('tmux is needed (apt-get install tmux)');
      t.skip('tmux is not installed');
      return;
    }
    const server = `emperor-top-${process.pid}`;
    const tmux = (...args: string[]): string => {
      const r = spawnSync('tmux', ['-L', server, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const rc = join(f.dir, 'top.rc');
    const command = `${process.execPath} --import tsx ${CLI} top --interval 0.3 --control ${f.sock}; echo $? > ${rc}`;
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'top', '-x', '140', '-y', '30', '-c', ROOT, '-e', 'TERM=xterm-256color', command);
    try {
      const screen = (): string => tmux('capture-pane', '-p', '-t', 'top');
      await waitFor(() => /busy\.ini\s+running/.test(screen()) && /idle\.ini\s+running/.test(screen()) && /q quit/.test(screen()), { what: 'top drawing the fleet', timeoutMs: 30_000 });
      assert.match(screen(), /^NAME\s+STATE\s+PIDS\s+CPU%\s+MEM/m);
      await waitFor(() => /^busy\.ini\s+running\s+\d+\s+[\d.]+\s+[\d.]+ MiB/m.test(screen()), { what: 'a CPU figure once two samples exist' });
      tmux('send-keys', '-t', 'top', 'm');
      await waitFor(() => screen().includes('(now: mem)'), { what: 'sorted by memory' });
      tmux('send-keys', '-t', 'top', 'q');
      const code = await waitFor(async () => (await readFile(rc, 'utf8').catch(() => '')).trim() || undefined, { what: 'top to quit on q', timeoutMs: 15_000 });
      assert.equal(code, '0');
    } finally {
      spawnSync('tmux', ['-L', server, 'kill-server']);
    }
  });
});
