/**
 * Everything a benchmark leaves behind (processes, directories, cgroups, tables) is registered
 * here as it is created and undone in reverse order: after each benchmark, and on ^C or a crash
 * of the runner. Process groups are also killed synchronously at exit, the last resort.
 */
export class Cleanup {
  private tasks: Array<{ what: string; run: () => Promise<void> | void }> = [];
  private readonly groups = new Set<number>();

  constructor(private readonly log: (msg: string) => void) {
    process.once('exit', () => {
      for (const pgid of this.groups) killGroup(pgid, 'SIGKILL');
    });
  }

  add(what: string, run: () => Promise<void> | void): void {
    this.tasks.push({ what, run });
  }

  /** A process group to SIGKILL if nothing stopped it more gently before. */
  trackGroup(pgid: number): void {
    this.groups.add(pgid);
  }

  untrackGroup(pgid: number): void {
    this.groups.delete(pgid);
  }

  /** Runs every task registered so far, newest first; a failing task is reported, the rest still run. */
  async runAll(): Promise<void> {
    const tasks = this.tasks.reverse();
    this.tasks = [];
    for (const t of tasks) {
      try {
        await t.run();
      } catch (err) {
        this.log(`cleanup: ${t.what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

export function killGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}
