/**
 * `pg://CONNECTION[;QUERY]`: the vassals are the rows of a PostgreSQL query (name, config, ts[,
 * uid, gid[, socket]]). Each read yields the full set as a snapshot; the core diffs it. The query
 * runs every `--freq` seconds over one kept connection, and at once when the table's trigger
 * NOTIFYs the channel (see setup.ts).
 */
import type { Monitor, MonitorContext, MonitorEvent } from '../../src/monitors/types.js';
import { parsePgArgument } from './argument.js';
import { DesiredSet } from './desired-set.js';
import { pollRows } from './poll.js';
import { PgReader } from './reader.js';
import { Wakeup } from './wakeup.js';

/** Notifications closer together than this cost one re-read. */
export const NUDGE_DEBOUNCE_MS = 10;

export function createPgMonitor(arg: string, ctx: MonitorContext): Monitor {
  const target = parsePgArgument(arg, ctx.nodeName);
  const log = ctx.log.child({ monitor: target.id });
  return {
    id: target.id,
    events(signal: AbortSignal): AsyncIterable<MonitorEvent> {
      const wakeup = new Wakeup(NUDGE_DEBOUNCE_MS, signal);
      const rows = new DesiredSet({
        source: target.id,
        tyrant: ctx.tyrant,
        extraExtensions: ctx.extraExtensions,
        maxConfigBytes: ctx.maxConfigBytes,
        noun: 'row',
      });
      const reader = new PgReader(target, wakeup, log);
      return pollRows({ freq: ctx.freq, reader, rows, wakeup, log, signal });
    },
  };
}
