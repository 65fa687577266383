/**
 * Where worker output lines go: the emperor's output (prefixed with the vassal's name, or as JSON
 * records), or a vassal's own `logto` file. Writes are asynchronous with a bounded buffer, so a
 * slow reader of the emperor's output drops lines (counted) instead of stalling supervision.
 */
import sonicBoom from 'sonic-boom';

// A CommonJS module: the class is the default export at run time.
const SonicBoom = sonicBoom.SonicBoom;
type SonicBoom = InstanceType<typeof sonicBoom.SonicBoom>;

export interface OutputSink {
  line(vassal: string, pid: number, line: string): void;
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

export function openDestination(fd: number): SonicBoom {
  const dest = new SonicBoom({ fd, sync: false, maxLength: OUTPUT_BUFFER_BYTES, minLength: 0 });
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
      this.droppedLines += countLines(data);
    });
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
    this.dest = new SonicBoom({ dest: target, append: true, mkdir: false, sync: false, maxLength: OUTPUT_BUFFER_BYTES });
    this.drain = new DrainWatch(this.dest);
    this.dest.on('drop', (data: string) => {
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
    this.dest.write(line + '\n');
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

function countLines(data: string): number {
  let n = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) n++;
  return n;
}
