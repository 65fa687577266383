/**
 * Debian's `uwsgi --emperor`, run the way the reference figures were taken, as the
 * comparison for our emperor: a child process in its own group, its log in a file, every process
 * below it killed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { killGroup } from './cleanup.js';
import { now, sleep, until } from './clock.js';
import { quote } from './emperor.js';
import { alive, descendants } from './proc.js';
import type { BenchContext } from './types.js';

export class UwsgiEmperor {
  readonly command: string;
  readonly pid: number;
  readonly startedAt: number;
  private readonly child: ChildProcess;

  constructor(ctx: BenchContext, args: readonly string[], logDir: string) {
    const log = join(logDir, `uwsgi-emperor-${Date.now()}.log`);
    const fd = openSync(log, 'w');
    this.startedAt = now();
    this.child = spawn('uwsgi', [...args], { cwd: logDir, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    this.pid = this.child.pid!;
    this.command = `uwsgi ${args.map(quote).join(' ')}`;
    ctx.cleanup.trackGroup(this.pid);
    ctx.cleanup.add(`stop uwsgi emperor ${this.pid}`, async () => {
      await this.stop();
      ctx.cleanup.untrackGroup(this.pid);
    });
  }

  /** Every vassal of the emperor (its processes), now. */
  vassalPids(): number[] {
    return descendants(this.pid);
  }

  /** SIGINT (uWSGI's shutdown; SIGTERM would reload it), then SIGKILL to whatever is left. */
  async stop(): Promise<void> {
    const below = descendants(this.pid);
    if (alive(this.pid)) {
      this.child.kill('SIGINT');
      await until(() => !alive(this.pid), 10_000, 20);
    }
    killGroup(this.pid, 'SIGKILL');
    for (const p of below) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(50);
  }
}
