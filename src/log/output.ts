/**
 * Where worker output lines go: the emperor's output (prefixed with the vassal's name, or as JSON
 * records), or a vassal's own `logto` file. Writes are asynchronous with a bounded buffer, so a
 * slow reader of the emperor's output drops lines (counted) instead of stalling supervision.
 * The lines of one read are written with one write: a burst costs a write per read, not per line.
 */
import sonicBoom from 'sonic-boom';
import { countLines, type LineBlock } from '../core/line-splitter.js';

// A CommonJS module: the class is the default export at run time.
const SonicBoom = sonicBoom.SonicBoom;
type SonicBoom = InstanceType<typeof sonicBoom.SonicBoom>;

export interface OutputSink {
  line(vassal: string, pid: number, line: string): void;
  /** The lines of one read together, in one write (a sink without it gets them one by one). */
  lines?(vassal: string, pid: number, block: LineBlock): void;
  /**
   * More is waiting for the reader than a burst should leave behind: the vassal stops reading its
   * workers' pipes (they block, nothing is lost) until `whenDrained` calls back.
   */
  congested(): boolean;
  whenDrained(fn: () => void): void;
  /** Lines dropped because the reader could not keep up. */
  readonly dropped: number;
  close(): Promise<void>;
}

/** Largest amount of output waiting for a slow reader; past it even emperor events are dropped. */
export const OUTPUT_BUFFER_BYTES = 64 * 1024 * 1024;
/**
 * Past this much waiting output, vassal lines are dropped (and counted) so the emperor's own events
 * still get through: only reached when the reader is stuck, since congestion pauses the workers first.
 */
export const LINE_BUFFER_BYTES = 16 * 1024 * 1024;
/** Waiting output at which workers are paused, and the level below which they read again. */
export const CONGESTED_BYTES = 1024 * 1024;
const DRAINED_BYTES = 256 * 1024;
/** A reader that takes longer than this to catch up is stuck: workers read on and lines drop. */
const STUCK_MS = 10_000;
/**
 * Largest single write to a logto file (SonicBoom in buffer mode). A file that fell behind gets
 * what waits in few large writes (SonicBoom's default is 16 KiB, a syscall per 200 lines).
 */
export const MAX_WRITE_BYTES = 1024 * 1024;

/** Bytes a SonicBoom holds that the reader has not taken yet (its internal counter). */
function buffered(dest: SonicBoom): number {
  return (dest as unknown as { _len?: number })._len ?? 0;
}

/** Calls back the waiters once a destination's backlog falls below DRAINED_BYTES (or it is stuck). */
class DrainWatch {
  private waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly dest: SonicBoom) {
    dest.on('write', () => this.check());
    dest.on('drain', () => this.check());
  }

  congested(): boolean {
    return buffered(this.dest) > CONGESTED_BYTES;
  }

  add(fn: () => void): void {
    this.waiters.push(fn);
    this.timer ??= setTimeout(() => this.release(), STUCK_MS);
  }

  private check(): void {
    if (this.waiters.length > 0 && buffered(this.dest) < DRAINED_BYTES) this.release();
  }

  private release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

/**
 * The emperor's own output takes strings (pino writes them), and a string-mode SonicBoom measures
 * the UTF-8 length of the last waiting chunk at every write: a chunk the size of MAX_WRITE_BYTES
 * would make each small write cost a copy of up to a megabyte while the reader is behind. Its
 * default chunk of 16 KiB keeps that small, at a system call per 16 KiB.
 */
const CONSOLE_MAX_WRITE_BYTES = 16 * 1024;

export function openDestination(fd: number): SonicBoom {
  const dest = new SonicBoom({ fd, sync: false, maxLength: OUTPUT_BUFFER_BYTES, minLength: 0, maxWrite: CONSOLE_MAX_WRITE_BYTES });
  return dest;
}

export class ConsoleOutput implements OutputSink {
  private droppedLines = 0;
  private readonly drain: DrainWatch;

  constructor(
    private readonly dest: SonicBoom,
    private readonly json: boolean,
  ) {
    this.drain = new DrainWatch(dest);
    dest.on('drop', (data: string) => {
      this.droppedLines += newlines(data);
    });
  }

  lines(vassal: string, pid: number, block: LineBlock): void {
    if (buffered(this.dest) > LINE_BUFFER_BYTES) {
      this.droppedLines += countLines(block);
      return;
    }
    const text = block.toString('utf8');
    if (this.json) {
      const head = `{"time":"${new Date().toISOString()}","vassal":${JSON.stringify(vassal)},"pid":${pid},"line":`;
      let out = '';
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        out += `${head}${JSON.stringify(text.slice(start, nl))}}\n`;
        start = nl + 1;
      }
      this.dest.write(out);
    } else {
      const prefix = `${vassal}[${pid}] `;
      this.dest.write(`${prefix}${text.slice(0, -1).replaceAll('\n', `\n${prefix}`)}\n`);
    }
  }

  line(vassal: string, pid: number, line: string): void {
    if (buffered(this.dest) > LINE_BUFFER_BYTES) {
      this.droppedLines++;
      return;
    }
    if (this.json) {
      this.dest.write(`{"time":"${new Date().toISOString()}","vassal":${JSON.stringify(vassal)},"pid":${pid},"line":${JSON.stringify(line)}}\n`);
    } else {
      this.dest.write(`${vassal}[${pid}] ${line}\n`);
    }
  }

  congested(): boolean {
    return this.drain.congested();
  }

  whenDrained(fn: () => void): void {
    this.drain.add(fn);
  }

  get dropped(): number {
    return this.droppedLines;
  }

  close(): Promise<void> {
    return flush(this.dest);
  }
}

/** A vassal's `logto` file: raw lines, appended. */
export class FileOutput implements OutputSink {
  private readonly dest: SonicBoom;
  private readonly drain: DrainWatch;
  private droppedLines = 0;
  private closing: Promise<void> | undefined;

  /** A path, or a descriptor already opened for appending (tyrant mode opens it as the vassal's user). */
  constructor(target: string | number) {
    // Bytes in, bytes out: a block of lines reaches the file as it was read, never decoded.
    this.dest = new SonicBoom({ dest: target, append: true, mkdir: false, sync: false, maxLength: OUTPUT_BUFFER_BYTES, maxWrite: MAX_WRITE_BYTES, contentMode: 'buffer' });
    this.drain = new DrainWatch(this.dest);
    this.dest.on('drop', (data: Buffer) => {
      this.droppedLines += countLines(data);
    });
    // An unwritable file must not crash the emperor; the vassal reports it once.
    this.dest.on('error', () => {});
  }

  /** Resolves once the file is open, rejects with the reason it cannot be. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if ((this.dest as unknown as { fd: number }).fd >= 0) { resolve(); return; }
      this.dest.once('ready', () => resolve());
      this.dest.once('error', reject);
    });
  }

  line(_vassal: string, _pid: number, line: string): void {
    if (buffered(this.dest) > LINE_BUFFER_BYTES) {
      this.droppedLines++;
      return;
    }
    writeBytes(this.dest, Buffer.from(`${line}\n`));
  }

  lines(_vassal: string, _pid: number, block: LineBlock): void {
    if (buffered(this.dest) > LINE_BUFFER_BYTES) {
      this.droppedLines += countLines(block);
      return;
    }
    writeBytes(this.dest, block);
  }

  congested(): boolean {
    return this.drain.congested();
  }

  whenDrained(fn: () => void): void {
    this.drain.add(fn);
  }

  get dropped(): number {
    return this.droppedLines;
  }

  close(): Promise<void> {
    this.closing ??= flush(this.dest).then(
      () => new Promise<void>((resolve) => {
        this.dest.once('close', () => resolve());
        this.dest.end();
      }),
    );
    return this.closing;
  }
}

/**
 * Resolves once everything written so far has reached the descriptor, or after `timeoutMs` when
 * the reader is stuck (then the rest is lost with the process). SonicBoom's own flush() does not
 * wait when it buffers nothing on purpose (minLength 0), so its counter is watched instead.
 */
async function flush(dest: SonicBoom, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (buffered(dest) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/** SonicBoom in buffer mode takes Buffers (its typings know only strings). */
function writeBytes(dest: SonicBoom, bytes: Buffer): void {
  (dest as unknown as { write(b: Buffer): boolean }).write(bytes);
}

function newlines(data: string): number {
  let n = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) n++;
  return n;
}
