/**
 * The next process of a `cmd:` action, started ahead of need. Through the exec helper a command
 * joins its vassal's cgroup before it runs, and on cgroup v1 a join can wait for an RCU grace
 * period (5 to 15 ms on a stock kernel): longer than everything else between a memory threshold
 * and its command. A standby process pays for the join in advance, then waits on its hold socket
 * until a firing lets it go on.
 *
 * One standby per action, replaced after each firing. One that ends by itself (the vassal's
 * cgroup was killed, the join failed) is replaced only at the next firing, which then starts its
 * command the ordinary way, so a standby that cannot live never turns into a restart loop.
 */
import type { CommandProcess } from './cmd-process.js';

export class CommandStandby {
  private waiting: CommandProcess | undefined;
  private closed = false;
  private filling: NodeJS.Immediate | undefined;

  /** `start` launches a held process; it throws when none can be started. */
  constructor(private readonly start: () => CommandProcess) {}

  /** Starts the next process after the current turn of the event loop, off a firing's path. */
  prime(): void {
    if (this.closed || this.filling !== undefined) return;
    this.filling = setImmediate(() => {
      this.filling = undefined;
      this.fill();
    });
  }

  /** The waiting process, let go; undefined when none is alive (start the command yourself). */
  take(): CommandProcess | undefined {
    const p = this.waiting;
    this.waiting = undefined;
    if (p === undefined) return undefined;
    if (!p.running) {
      discard(p);
      return undefined;
    }
    p.release();
    return p;
  }

  /** Ends the waiting process and resolves once it is gone (its cgroup can then be removed). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.filling !== undefined) clearImmediate(this.filling);
    this.filling = undefined;
    const p = this.waiting;
    this.waiting = undefined;
    if (p === undefined) return;
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    discard(p);
    await p.ended.then(
      () => undefined,
      () => undefined,
    );
  }

  private fill(): void {
    if (this.closed || this.waiting !== undefined) return;
    try {
      const p = this.start();
      p.ended.catch(() => undefined);
      this.waiting = p;
    } catch {
      // The firing that finds no standby starts its command itself, and reports what fails.
    }
  }
}

/** A process nobody will read from: its pipes are drained so they close when it ends. */
function discard(p: CommandProcess): void {
  p.stdin.on('error', () => {});
  p.stdin.destroy();
  for (const o of p.output) o.resume();
}
