// Both ways of starting a worker's process (the spawn addon, Node's child_process) behave the same
// through the Launched interface: descriptors, environment, directory, session, exit and signal.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { LaunchEnd, Launched, LaunchSpec } from '../../src/core/launch.js';
import { launchNative } from '../../src/core/launch-native.js';
import { launchNode } from '../../src/core/launch-node.js';
import { spawnAddon } from '../../src/native/spawn.js';
import { tempDir } from '../helpers/wait.js';

const native = spawnAddon();
// The addon closes every descriptor but the ones given; Node's spawn leaves any that its process
// opened without close-on-exec (a test runner's, say) to the child.
const backends: Array<[string, (spec: LaunchSpec) => Launched, string | false, boolean]> = [
  ['spawn addon', (spec) => ('addon' in native ? launchNative(native.addon, spec) : launchNode(spec)), 'addon' in native ? false : native.reason, true],
  ['child_process', launchNode, false, false],
];

function collect(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (text += c));
    stream.once('close', () => resolve(text));
    stream.once('error', reject);
  });
}

function ended(p: Launched): Promise<LaunchEnd> {
  return new Promise((resolve) => p.onEnd(resolve));
}

function sh(script: string, more: Partial<LaunchSpec> = {}): LaunchSpec {
  return { file: '/bin/sh', args: ['-c', script], env: { PATH: '/usr/bin:/bin', GREETING: 'hello there' }, stderr: 'pipe', extraFds: [], channels: 0, ...more };
}

for (const [name, launch, skip, closesOthers] of backends) {
  describe(`launching with ${name}`, { skip }, () => {
    it('gives the environment, the directory, stdout and stderr, and the exit code', async () => {
      const { dir, cleanup } = await tempDir();
      try {
        const p = launch(sh('echo "$GREETING from $(pwd)"; echo oops >&2; exit 3', { cwd: dir }));
        const [out, err, end] = await Promise.all([collect(p.outputs[0]!), collect(p.outputs[1]!), ended(p)]);
        assert.equal(out, `hello there from ${dir}\n`);
        assert.equal(err, 'oops\n');
        assert.deepEqual(end, { code: 3, signal: null });
      } finally {
        await cleanup();
      }
    });

    it('runs in a session of its own with stdin at /dev/null, and reports the signal that killed it', async () => {
      const p = launch(sh('echo "$(ps -o sid= -p $$) $(readlink /proc/$$/fd/0)"; exec sleep 100'));
      const out = collect(p.outputs[0]!);
      const end = ended(p);
      const text = await new Promise<string>((resolve) => p.outputs[0]!.once('data', (c: Buffer | string) => resolve(String(c))));
      assert.equal(text.trim(), `${p.pid} /dev/null`);
      process.kill(-p.pid, 'SIGTERM');
      assert.deepEqual(await end, { code: null, signal: 'SIGTERM' });
      await out;
    });

    it(`passes extra descriptors as fd 3.., channels after them${closesOthers ? ', and nothing else' : ''}`, async () => {
      const { dir, cleanup } = await tempDir();
      const { open } = await import('node:fs/promises');
      const file = await open(join(dir, 'extra.txt'), 'w');
      try {
        // fd 3 is the file, fd 4 the channel; ls shows what the shell holds besides its own.
        const p = launch(sh('echo to-file >&3; echo to-channel >&4; read reply <&4; echo "got $reply"; ls /proc/$$/fd | sort -n | tr "\\n" " "', { extraFds: [file.fd], channels: 1 }));
        assert.equal(p.channels.length, 1);
        const chan = p.channels[0]!;
        const fromChannel = new Promise<string>((resolve) => chan.once('data', (c: Buffer) => resolve(String(c))));
        const out = collect(p.outputs[0]!);
        assert.equal(await fromChannel, 'to-channel\n');
        chan.write('pong\n');
        const end = await ended(p);
        chan.destroy();
        assert.deepEqual(end, { code: 0, signal: null });
        const lines = (await out).trim().split('\n');
        assert.equal(lines[0], 'got pong');
        assert.deepEqual(lines[1]!.trim().split(' ').map(Number).filter((fd) => fd <= 4), [0, 1, 2, 3, 4]);
        if (closesOthers) assert.equal(lines[1]!.trim().split(' ').length <= 6, true, `only fds 0-4 and the one ls opens: ${lines[1]}`);
        assert.equal(await readFile(join(dir, 'extra.txt'), 'utf8'), 'to-file\n');
      } finally {
        await file.close();
        await cleanup();
      }
    });
  });
}

describe('the spawn addon', { skip: 'addon' in native ? false : native.reason }, () => {
  it('throws a system error naming the file when the program cannot run', () => {
    assert.ok('addon' in native);
    assert.throws(() => launchNative(native.addon, sh('', { file: '/nonexistent/program' })), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ENOENT');
      assert.match(err.message, /\/nonexistent\/program/);
      return true;
    });
  });
});
