/**
 * `alarm-oom = ALARM[,ALARM…]`: raises the alarms when the vassal's cgroup runs out of memory.
 *
 * cgroup v1: an eventfd on memory.oom_control, the kernel's OOM notification (sent as the OOM
 * begins, before anything is killed). cgroup v2: memory.events, whose `oom` and `oom_kill`
 * counters the kernel bumps (and reports to inotify) when the cgroup hits memory.max and when it
 * kills. The message names the cgroup and its limit, and is the same for every OOM of a vassal,
 * so alarm-freq folds a burst of them into one firing.
 */
import type { TriggerHost } from '../../src/plugin.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { eventfdAvailable, watchEventfd } from './eventfd.js';
import { formatBytes, memoryFiles, readBytes, readKeyed } from './memory-files.js';
import { CgroupTrigger, errorText, LOG_PREFIX, noticeOnce } from './trigger-base.js';
import { coalesce, every, onFileChange, SAMPLE_MS } from './wakeups.js';

/**
 * Turns successive memory.events readings into OOM firings. One OOM shows as `oom` and `oom_kill`
 * going up, possibly seen in two readings; a limit hit higher up shows only as `oom_kill`. Each
 * `oom` counts; an `oom_kill` counts unless an `oom` already fired for it.
 */
export class OomCounter {
  private last: { oom: number; kill: number } | undefined;
  private unmatched = 0;

  /** The first reading is the baseline. Returns how many OOMs are new in this reading. */
  update(events: Record<string, number>): number {
    // A reading without the counters is no reading (never from the kernel; a torn file at worst).
    if (events.oom === undefined && events.oom_kill === undefined) return 0;
    const now = { oom: events.oom ?? 0, kill: events.oom_kill ?? 0 };
    const prev = this.last ?? now;
    this.last = now;
    const dOom = Math.max(0, now.oom - prev.oom);
    const dKill = Math.max(0, now.kill - prev.kill);
    const fresh = dOom + Math.max(0, dKill - dOom - this.unmatched);
    this.unmatched = Math.max(0, this.unmatched + dOom - dKill);
    return fresh;
  }
}

function names(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) for (const n of v.split(',')) if (n.trim() !== '' && !out.includes(n.trim())) out.push(n.trim());
  if (out.length === 0) throw new EmperorError(ErrorCodes.CONFIG_INVALID, 'alarm-oom: expected alarm names (e.g. alarm-oom = oom)', { key: 'alarm-oom' });
  return out;
}

export class OomTrigger extends CgroupTrigger {
  private readonly alarms: string[];

  constructor(values: readonly string[], host: TriggerHost) {
    super(host);
    this.alarms = names(values);
  }

  protected async setup(): Promise<void> {
    const dir = this.host.cgroupPath;
    if (dir === undefined) {
      noticeOnce(this.host, 'alarm-oom', 'alarm-oom is unavailable: the vassal has no cgroup (set cgroup = NAME)');
      return;
    }
    const files = await memoryFiles(dir);
    if ('missing' in files) {
      noticeOnce(this.host, 'alarm-oom', `alarm-oom is unavailable: ${files.missing}`);
      return;
    }
    if (this.aborted) return;
    const onError = (err: unknown): void => this.host.log.error(`${LOG_PREFIX} alarm-oom: ${errorText(err)}`, { event: 'trigger-error' });
    if (files.version === 1) {
      const avail = eventfdAvailable();
      if (avail.ok) {
        const w = watchEventfd(files.control, files.oomControl, undefined, () => void this.onV1Event(files.oomControl).catch(onError), (err) => {
          if (!this.aborted) onError(new Error(`stopped watching ${files.oomControl}: ${err.message}`));
        });
        this.track(() => w.close());
        return;
      }
      noticeOnce(this.host, 'alarm-oom', `alarm-oom samples ${files.oomControl} every ${SAMPLE_MS / 1000} s: eventfd notifications are unavailable (${avail.reason})`);
      const counter = new OomCounter();
      // oom_control has no `oom` line, only `oom_kill`: each kill counts.
      const sample = coalesce(() => this.sample(files.oomControl, counter, 'memory.limit_in_bytes'), onError);
      sample();
      every(SAMPLE_MS, sample, this.ac.signal);
      return;
    }
    const counter = new OomCounter();
    const sample = coalesce(() => this.sample(files.events, counter, 'memory.max'), onError);
    onFileChange(files.events, sample, (err) => onError(new Error(`cannot watch ${files.events}: ${err.message}`)), this.ac.signal);
    sample();
  }

  protected describeFailure(err: unknown): string {
    return `alarm-oom: ${errorText(err)}`;
  }

  private async onV1Event(oomControl: string): Promise<void> {
    // Unreadable: the cgroup was removed, which also signals the eventfd. No OOM.
    if ((await readKeyed(oomControl)) === undefined || this.aborted) return;
    await this.fire('memory.limit_in_bytes');
  }

  private async sample(file: string, counter: OomCounter, limitFile: string): Promise<void> {
    const state = await readKeyed(file);
    if (state === undefined || this.aborted) return;
    if (counter.update(state) > 0) await this.fire(limitFile);
  }

  private async fire(limitFile: string): Promise<void> {
    const dir = this.host.cgroupPath ?? '';
    // v1 reports "no limit" as a huge number, v2 as "max" (unreadable as a number).
    const limit = await readBytes(`${dir}/${limitFile}`);
    const shown = limit !== undefined && limit < 2 ** 62 ? ` (limit ${formatBytes(limit)})` : '';
    if (!this.aborted) this.host.raise(this.alarms, `out of memory in cgroup ${dir}${shown}`);
  }
}
