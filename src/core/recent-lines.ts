/**
 * A vassal's last output lines (`emperor logs`), kept at a bounded cost. Blocks of lines are held
 * as they were read and only cut into lines when asked for: a burst costs one entry per read.
 * Storage grows with what was said, up to about `capacity` lines.
 */
import { countLines, linesOf, type LineBlock } from './line-splitter.js';

export interface RecentLine {
  time: number;
  pid: number;
  line: string;
}

/**
 * Below this, a block is held as text: a small Buffer is a slice of a shared 8 KiB pool, which it
 * would keep alive for as long as it is held.
 */
const SMALL_BLOCK_BYTES = 4096;

interface Held {
  time: number;
  pid: number;
  /** Lines each followed by '\n', as bytes or as text. */
  lines: LineBlock | string;
  /** How many, counted no further than the capacity. */
  count: number;
}

export class RecentLines {
  /** Oldest first; just enough of them to hold `capacity` lines. */
  private held: Held[] = [];
  private total = 0;

  constructor(readonly capacity: number) {}

  push(entry: RecentLine): void {
    this.add({ time: entry.time, pid: entry.pid, lines: `${entry.line}\n`, count: 1 });
  }

  pushBlock(time: number, pid: number, block: LineBlock): void {
    const count = countLines(block, this.capacity);
    this.add({ time, pid, lines: block.length < SMALL_BLOCK_BYTES ? block.toString('utf8') : block, count });
  }

  /** Oldest first, at most `capacity` lines. */
  toArray(): RecentLine[] {
    const out: RecentLine[] = [];
    for (const h of this.held) {
      const lines = typeof h.lines === 'string' ? h.lines.split('\n').slice(0, -1) : linesOf(h.lines);
      for (const line of lines) out.push({ time: h.time, pid: h.pid, line });
    }
    return out.length > this.capacity ? out.slice(out.length - this.capacity) : out;
  }

  get size(): number {
    return Math.min(this.total, this.capacity);
  }

  private add(h: Held): void {
    if (this.capacity <= 0 || h.count === 0) return;
    this.held.push(h);
    this.total += h.count;
    // Drop the oldest entries as long as the newer ones still hold `capacity` lines.
    while (this.held.length > 1 && this.total - this.held[0]!.count >= this.capacity) this.total -= this.held.shift()!.count;
  }
}
