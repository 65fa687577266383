/**
 * Tyrant-mode limits on the files a vassal's config names for the emperor (root) to touch: its
 * eventfd control and subject files stay inside its own cgroup.
 */
import { dirname, resolve } from 'node:path';
import { EmperorError, ErrorCodes } from '../errors.js';
import { parseEventfdLine } from './eventfd-line.js';

/** Refuses an alarm-eventfd line whose files are not `<own cgroup>/cgroup.event_control` and a file of the own cgroup. */
export function confineEventfd(values: readonly string[], cgroupPath: string | undefined, where: { origin: string; lineOf: (value: string) => number | undefined }): void {
  for (const value of values) {
    if (cgroupPath === undefined) {
      throw new EmperorError(ErrorCodes.PERMISSION, `alarm-eventfd: in tyrant mode its files must be in the vassal's own cgroup, and this vassal has none (set cgroup = NAME)`, { file: where.origin, line: where.lineOf(value), key: 'alarm-eventfd' });
    }
    const l = parseEventfdLine(value);
    const control = resolve('/', l.control);
    const subject = resolve('/', l.subject);
    const ownControl = `${cgroupPath}/cgroup.event_control`;
    if (control !== ownControl || dirname(subject) !== cgroupPath) {
      const bad = control !== ownControl ? `control file '${l.control}' is not ${ownControl}` : `subject file '${l.subject}' is not a file of ${cgroupPath}`;
      throw new EmperorError(ErrorCodes.PERMISSION, `alarm-eventfd: tyrant mode keeps a vassal's eventfd files inside its own cgroup: ${bad}`, { file: where.origin, line: where.lineOf(value), key: 'alarm-eventfd' });
    }
  }
}
