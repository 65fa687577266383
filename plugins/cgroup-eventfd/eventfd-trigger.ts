/**
 * `alarm-eventfd = ALARM[:MESSAGE] CONTROL_FILE SUBJECT_FILE [EXTRA]`, as the uwsgi-eventfd plugin:
 * each line registers an eventfd through CONTROL_FILE (cgroup v1 cgroup.event_control) for
 * SUBJECT_FILE, and every notification raises ALARM with MESSAGE (default: the alarm's name).
 * Like uWSGI, a memory.usage_in_bytes threshold notifies at crossings in both directions;
 * alarm-memory fires on the way up only.
 */
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import type { TriggerHost } from '../../src/plugin.js';
import { parseEventfdLine, type EventfdLine } from '../../src/isolation/eventfd-line.js';
import { eventfdAvailable, watchEventfd } from './eventfd.js';
import { CgroupTrigger, errorText, LOG_PREFIX, noticeOnce } from './trigger-base.js';

export class EventfdTrigger extends CgroupTrigger {
  private readonly lines: EventfdLine[];

  /** Throws a CONFIG_INVALID error for a line that is not the option's syntax. */
  constructor(values: readonly string[], host: TriggerHost) {
    super(host);
    this.lines = values.map(parseEventfdLine);
  }

  protected async setup(): Promise<void> {
    const avail = eventfdAvailable();
    if (!avail.ok) {
      noticeOnce(this.host, 'alarm-eventfd', `alarm-eventfd is unavailable: ${avail.reason}; the vassal runs without it and alarm${this.lines.length === 1 ? '' : 's'} ${[...new Set(this.lines.map((l) => l.alarm))].join(', ')} will not fire from it`);
      return;
    }
    for (const l of this.lines) {
      if (this.aborted) return;
      try {
        const w = watchEventfd(l.control, l.subject, l.extra, () => void this.onEvent(l), (err) => {
          if (!this.aborted) this.host.log.error(`${LOG_PREFIX} alarm-eventfd ${l.alarm}: stopped watching ${l.subject}: ${err.message}`, { event: 'trigger-error' });
        });
        this.track(() => w.close());
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && basename(l.control) === 'cgroup.event_control' && (await access(l.subject).then(() => true, () => false))) {
          // The subject exists but the control file does not: a cgroup v2 hierarchy.
          noticeOnce(this.host, `alarm-eventfd ${l.control}`, `alarm-eventfd ${l.alarm} is unavailable: ${l.control} does not exist (cgroup v2 has no cgroup.event_control; use alarm-memory = ALARM BYTES and alarm-oom = ALARM, which work on both versions)`);
        } else {
          this.host.log.error(`${LOG_PREFIX} alarm-eventfd ${l.alarm}: ${errorText(err)}; this line will not raise alarms`, { event: 'trigger-error' });
        }
      }
    }
  }

  protected describeFailure(err: unknown): string {
    return `alarm-eventfd: ${errorText(err)}`;
  }

  private async onEvent(l: EventfdLine): Promise<void> {
    // Removing a cgroup signals every eventfd registered on it: that is no alarm.
    if (this.aborted || !(await access(l.subject).then(() => true, () => false)) || this.aborted) return;
    this.host.raise([l.alarm], l.message);
  }
}
