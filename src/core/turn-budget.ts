/**
 * Keeps a burst of vassal work from holding the event loop. A thousand config files dropped at
 * once come back from the file system in batches, and starting each vassal (plan, spawn) takes a
 * millisecond or more: a batch handled in one go holds the loop for a hundred milliseconds, and a
 * stats request, a readiness event or a worker's exit waits behind it.
 *
 * enter() lets work through at once until it has taken BUDGET_MS of the current turn of the loop;
 * after that each caller waits its turn, one per iteration of the loop, in order of arrival, so
 * that I/O and timers are handled between any two of them. While something that answers a person
 * holds the budget (a stats request built in slices), every caller waits its turn that way: the
 * request's slices are then never more than one vassal start apart, and vassal work never stops.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

const BUDGET_MS = 8;

export class TurnBudget {
  /** When the current turn's budget began; undefined when nothing has entered this turn. */
  private began: number | undefined;
  private readonly waiting: Array<() => void> = [];
  private releasing = false;
  private holds = 0;

  constructor(private readonly budgetMs = BUDGET_MS) {}

  /** Resolves when the caller may go on: at once while within budget and nobody waits. */
  enter(): Promise<void> | undefined {
    const now = performance.now();
    if (this.began === undefined) {
      this.began = now;
      // The next iteration of the loop starts a new budget.
      setImmediate(() => {
        if (!this.releasing) this.began = undefined;
      });
    }
    if (this.waiting.length === 0 && this.holds === 0 && now - this.began < this.budgetMs) return undefined;
    const turn = new Promise<void>((resolve) => this.waiting.push(resolve));
    if (!this.releasing) void this.release();
    return turn;
  }

  /** Waiting callers go on one per iteration of the loop. */
  private async release(): Promise<void> {
    this.releasing = true;
    while (this.waiting.length > 0) {
      await nextTurn();
      this.began = performance.now();
      this.waiting.shift()!();
    }
    this.releasing = false;
    this.began = undefined;
  }

  /** Runs `fn` with the budget held: meanwhile callers go on one per turn of the loop. */
  async held<T>(fn: () => Promise<T>): Promise<T> {
    this.holds++;
    try {
      return await fn();
    } finally {
      this.holds--;
    }
  }

  /** Callers waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }
}
