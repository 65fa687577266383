/**
 * `alarm-memory = ALARM BYTES`: raises ALARM when the memory usage of the vassal's cgroup crosses
 * BYTES upwards, and again only after usage has fallen below 90 % of BYTES.
 *
 * cgroup v1: two eventfd thresholds per line (BYTES and the re-arm level), so nothing is polled;
 * each notification reads the usage at once, in the same callback, and feeds the hysteresis: the
 * alarm is raised in the event-loop turn that saw the crossing. cgroup v2 notifies no usage level, so
 * memory.current is sampled every second, and at once when memory.events changes (the cgroup hit
 * memory.high or memory.max). Without the eventfd addon, v1 is sampled the same way.
 */
import type { TriggerHost } from '../../src/plugin.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { readSize } from '../../src/config/values.js';
import { eventfdAvailable, watchEventfd } from './eventfd.js';
import { Hysteresis } from './hysteresis.js';
import { formatBytes, memoryFiles, readBytesNow } from './memory-files.js';
import { CgroupTrigger, errorText, LOG_PREFIX, noticeOnce } from './trigger-base.js';
import { every, onFileChange, SAMPLE_MS } from './wakeups.js';

interface Line {
  alarm: string;
  hysteresis: Hysteresis;
}

function parse(value: string): Line {
  const words = value.trim().split(/[ \t]+/);
  let bytes: number | undefined;
  try {
    if (words.length === 2 && words[0] !== '') bytes = readSize(words[1]!);
  } catch {
    bytes = undefined;
  }
  if (bytes === undefined || bytes <= 0) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `alarm-memory: expected ALARM BYTES with BYTES above 0 (e.g. alarm-memory = mem 200M), got '${value}'`, { key: 'alarm-memory' });
  }
  return { alarm: words[0]!, hysteresis: new Hysteresis(bytes) };
}

export class MemoryTrigger extends CgroupTrigger {
  private readonly lines: Line[];
  private usageFile = '';

  /** Throws a CONFIG_INVALID error for a bad line. */
  constructor(values: readonly string[], host: TriggerHost) {
    super(host);
    this.lines = values.map(parse);
  }

  protected async setup(): Promise<void> {
    const dir = this.host.cgroupPath;
    if (dir === undefined) {
      noticeOnce(this.host, 'alarm-memory', 'alarm-memory is unavailable: the vassal has no cgroup (set cgroup = NAME)');
      return;
    }
    const files = await memoryFiles(dir);
    if ('missing' in files) {
      noticeOnce(this.host, 'alarm-memory', `alarm-memory is unavailable: ${files.missing}`);
      return;
    }
    if (this.aborted) return;
    const check = (): void => {
      try {
        this.check();
      } catch (err) {
        this.host.log.error(`${LOG_PREFIX} alarm-memory: ${errorText(err)}`, { event: 'trigger-error' });
      }
    };
    this.usageFile = files.version === 1 ? files.usage : files.current;
    // Watches first, then the first reading: a crossing in between is not lost.
    if (files.version === 1) {
      const avail = eventfdAvailable();
      if (avail.ok) {
        for (const l of this.lines) {
          for (const level of [l.hysteresis.threshold, l.hysteresis.rearmAt]) {
            const w = watchEventfd(files.control, files.usage, String(level), () => check(), (err) => {
              if (!this.aborted) this.host.log.error(`${LOG_PREFIX} alarm-memory ${l.alarm}: stopped watching ${files.usage}: ${err.message}`, { event: 'trigger-error' });
            });
            this.track(() => w.close());
          }
        }
        check();
        return;
      }
      noticeOnce(this.host, 'alarm-memory', `alarm-memory samples ${files.usage} every ${SAMPLE_MS / 1000} s: eventfd notifications are unavailable (${avail.reason})`);
    } else {
      onFileChange(files.events, check, (err) => this.host.log.error(`${LOG_PREFIX} alarm-memory: cannot watch ${files.events}: ${err.message}`, { event: 'trigger-error' }), this.ac.signal);
    }
    every(SAMPLE_MS, check, this.ac.signal);
    check();
  }

  protected describeFailure(err: unknown): string {
    return `alarm-memory: ${errorText(err)}`;
  }

  /** One reading, synchronous: readings never overlap and are fed in the order they were taken. */
  private check(): void {
    const usage = readBytesNow(this.usageFile);
    // Undefined: the cgroup is gone (the vassal is stopping).
    if (usage === undefined || this.aborted) return;
    for (const l of this.lines) {
      if (!l.hysteresis.update(usage)) continue;
      this.host.raise([l.alarm], `memory usage of cgroup ${this.host.cgroupPath ?? ''} reached ${formatBytes(usage)}, above the alarm-memory threshold of ${formatBytes(l.hysteresis.threshold)}`);
    }
  }
}
