/**
 * A first-in first-out hand-over from callbacks (amqplib's consumer, connection events) to an
 * async iterator. It holds no more than its producers put in: the broker's prefetch bounds the
 * messages, the reconnect backoff bounds the errors.
 */
export class Inbox<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(signal: AbortSignal) {
    // An abort drops what is waiting: the iteration ends now, not after a backlog.
    const stop = (): void => {
      this.items.length = 0;
      this.end();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  }

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wakeUp();
  }

  /** Stops the iteration once the items already in are taken out. */
  end(): void {
    this.ended = true;
    this.wakeUp();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
