/**
 * Turns a worker's output chunks into lines. A line split across chunks is joined; a line longer
 * than `maxLine` bytes is cut there and the rest of it dropped (and counted in the line), so one
 * vassal that never prints a newline cannot grow the emperor's memory.
 */
export type LineHandler = (line: string) => void;

export const DEFAULT_MAX_LINE = 64 * 1024;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line dropped past maxLine. */
  private dropped = 0;

  constructor(
    private readonly onLine: LineHandler,
    private readonly maxLine = DEFAULT_MAX_LINE,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, start)) !== -1) {
      if (this.pendingBytes === 0 && this.dropped === 0 && nl - start <= this.maxLine) {
        this.emit(chunk.toString('utf8', start, nl));
      } else {
        this.append(chunk, start, nl);
        this.endLine();
      }
      start = nl + 1;
    }
    if (start < chunk.length) this.append(chunk, start, chunk.length);
  }

  /** Emits what is left as a last line (a worker that exited without a final newline). */
  flush(): void {
    if (this.pendingBytes > 0 || this.dropped > 0) this.endLine();
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

  private endLine(): void {
    let text = this.pending.length === 1 ? this.pending[0]!.toString('utf8') : Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    if (this.dropped > 0) text += ` [line truncated: ${this.dropped} more bytes]`;
    this.pending = [];
    this.pendingBytes = 0;
    this.dropped = 0;
    this.emit(text);
  }

  private emit(line: string): void {
    // A trailing CR from CRLF output is noise in logs and regexes.
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}
