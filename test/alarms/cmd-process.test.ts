/** The process of a cmd: action, started with the spawn addon or with Node's spawn: the same behaviour. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { startCommand, type CommandSpec } from '../../src/alarms/actions/cmd-process.js';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
// Credentials given (our own) take Node's spawn; none take the addon when it is built.
const ways: Array<[string, Partial<CommandSpec>]> = [
  ['default', {}],
  ["Node's spawn", { uid: process.getuid!(), gid: process.getgid!() }],
];

function collect(streams: Readable[]): () => string {
  const chunks: Buffer[] = [];
  for (const s of streams) s.on('data', (b: Buffer) => chunks.push(b));
  return () => Buffer.concat(chunks).toString('utf8');
}

for (const [way, extra] of ways) {
  test(`cmd process (${way}): stdin in, stdout and stderr out, exit code, own process group`, async () => {
    const p = startCommand({ file: '/bin/sh', args: ['-c', 'cat; echo err >&2; echo "pgid $(ps -o pgid= $$)"; exit 3'], env, cwd: '/tmp', ...extra });
    const output = collect(p.output);
    p.stdin.end('message ☕\n');
    assert.deepEqual(await p.ended, { code: 3, signal: null });
    const text = output();
    assert.match(text, /^message ☕\n/);
    assert.match(text, /err\n/);
    assert.equal(Number(/pgid\s+(\d+)/.exec(text)?.[1]), p.pid, 'leads its own process group');
  });

  test(`cmd process (${way}): a kill of its group is reported by signal name`, async () => {
    const p = startCommand({ file: '/bin/sh', args: ['-c', 'echo up; exec sleep 100'], env, ...extra });
    const output = collect(p.output);
    p.stdin.end();
    await new Promise<void>((resolve) => p.output[0]!.once('data', () => resolve()));
    process.kill(-p.pid, 'SIGKILL');
    assert.deepEqual(await p.ended, { code: null, signal: 'SIGKILL' });
    assert.equal(output(), 'up\n');
  });
}

for (const [way, extra] of ways) {
  test(`cmd process (${way}): a program that cannot be started fails with the reason`, async () => {
    await assert.rejects(async () => {
      const p = startCommand({ file: '/nonexistent/program', args: [], env, ...extra });
      p.stdin.on('error', () => {});
      await p.ended;
    }, /ENOENT/);
  });
}
