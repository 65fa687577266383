/**
 * Turns a worker's output chunks into lines. A line split across chunks is joined; a line longer
 * than `maxLine` bytes is cut there and the rest of it dropped (and counted in the line), so one
 * vassal that never prints a newline cannot grow the emperor's memory.
 *
 * The lines of one chunk come out together as a block (see LineBlock): a burst costs one call per
 * read, not one per line, and the common chunk (valid UTF-8, no CR, no over-long line) is passed
 * on as its own bytes, never decoded.
 */
import { isUtf8 } from 'node:buffer';

/**
 * Whole lines read together: valid UTF-8, each line followed by '\n' (which is not part of it),
 * a trailing CR already removed. Its bytes never change, so it may be kept.
 */
export type LineBlock = Buffer;

export type LineHandler = (line: string) => void;
export interface BlockHandler {
  block(lines: LineBlock): void;
}

export const DEFAULT_MAX_LINE = 64 * 1024;

const NL = 10;
const CR = 13;

/** Calls `fn` with the bounds of every line of a block (end excludes the '\n'). */
export function forEachLine(block: LineBlock, fn: (start: number, end: number) => void): void {
  let start = 0;
  for (let nl = block.indexOf(NL); nl !== -1; nl = block.indexOf(NL, start)) {
    fn(start, nl);
    start = nl + 1;
  }
}

/** The lines of a block as strings. */
export function linesOf(block: LineBlock): string[] {
  if (block.length === 0) return [];
  const lines = block.toString('utf8').split('\n');
  lines.pop();
  return lines;
}

/** Lines in a block, counting no further than `limit`. */
export function countLines(block: LineBlock, limit = Infinity): number {
  let n = 0;
  for (let nl = block.indexOf(NL); nl !== -1 && n < limit; nl = block.indexOf(NL, nl + 1)) n++;
  return n;
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line dropped past maxLine. */
  private dropped = 0;
  private readonly onBlock: (block: LineBlock) => void;

  constructor(
    handler: LineHandler | BlockHandler,
    private readonly maxLine = DEFAULT_MAX_LINE,
  ) {
    if (typeof handler === 'function') {
      this.onBlock = (block) => {
        for (const line of linesOf(block)) handler(line);
      };
    } else {
      this.onBlock = (block) => handler.block(block);
    }
  }

  push(chunk: Buffer): void {
    let start = 0;
    let head: Buffer | undefined;
    if (this.pendingBytes > 0 || this.dropped > 0) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) {
        this.append(chunk, 0, chunk.length);
        return;
      }
      this.append(chunk, 0, nl);
      head = this.endLine();
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    let body: Buffer | undefined;
    if (last >= start) {
      body = this.whole(chunk.subarray(start, last + 1));
      start = last + 1;
    }
    if (start < chunk.length) this.append(chunk, start, chunk.length);
    // One copy into a block of its own: the chunk's memory belongs to the stream and may be reused.
    if (head && body) this.onBlock(Buffer.concat([head, body]));
    else if (body) this.onBlock(Buffer.from(body));
    else if (head) this.onBlock(head);
  }

  /** Emits what is left as a last line (a worker that exited without a final newline). */
  flush(): void {
    if (this.pendingBytes > 0 || this.dropped > 0) this.onBlock(this.endLine());
  }

  /** Whole lines of one chunk as block text: the same bytes when nothing needs changing. */
  private whole(lines: Buffer): Buffer {
    if (lines.indexOf(CR) === -1 && this.fits(lines) && isUtf8(lines)) return lines;
    const out: string[] = [];
    forEachLine(lines, (s, e) => {
      out.push(e - s > this.maxLine ? cut(lines.toString('utf8', s, s + this.maxLine), e - s - this.maxLine) : withoutCr(lines.toString('utf8', s, e)));
    });
    out.push('');
    return Buffer.from(out.join('\n'));
  }

  /** No line of these is longer than maxLine. */
  private fits(lines: Buffer): boolean {
    if (lines.length - 1 <= this.maxLine) return true;
    let start = 0;
    for (let nl = lines.indexOf(NL); nl !== -1; nl = lines.indexOf(NL, start)) {
      if (nl - start > this.maxLine) return false;
      start = nl + 1;
    }
    return true;
  }

  private append(chunk: Buffer, start: number, end: number): void {
    const take = Math.min(this.maxLine - this.pendingBytes, end - start);
    if (take > 0) {
      // Copy: the chunk's memory belongs to the stream and may be reused.
      this.pending.push(Buffer.from(chunk.subarray(start, start + take)));
      this.pendingBytes += take;
    }
    this.dropped += end - start - Math.max(take, 0);
  }

  /** The pending line, ended: as a block of one line. */
  private endLine(): Buffer {
    const text = this.pending.length === 1 ? this.pending[0]!.toString('utf8') : Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    const line = this.dropped > 0 ? cut(text, this.dropped) : withoutCr(text);
    this.pending = [];
    this.pendingBytes = 0;
    this.dropped = 0;
    return Buffer.from(`${line}\n`);
  }
}

function cut(kept: string, dropped: number): string {
  return `${kept} [line truncated: ${dropped} more bytes]`;
}

/** A trailing CR from CRLF output is noise in logs and regexes. */
function withoutCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
