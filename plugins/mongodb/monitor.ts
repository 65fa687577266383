/**
 * `mongodb://...`: the vassals are the documents of a MongoDB collection matching a filter (name,
 * config, ts[, uid, gid, socket]). Each read yields the full set as a snapshot; the core diffs it.
 * The collection is read every `--freq` seconds, and at once on a change-stream event where the
 * server has change streams.
 */
import type { Monitor, MonitorContext, MonitorEvent } from '../../src/monitors/types.js';
import { DesiredSet } from '../pg/desired-set.js';
import { pollRows } from '../pg/poll.js';
import { Wakeup } from '../pg/wakeup.js';
import { parseMongoArgument } from './argument.js';
import { MongoReader } from './reader.js';

/** Change events closer together than this cost one re-read. */
export const NUDGE_DEBOUNCE_MS = 10;

export function createMongoMonitor(arg: string, ctx: MonitorContext): Monitor {
  const target = parseMongoArgument(arg, ctx.nodeName);
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
        noun: 'document',
      });
      const reader = new MongoReader(target, wakeup, log, ctx.freq);
      return pollRows({ freq: ctx.freq, reader, rows, wakeup, log, signal });
    },
  };
}
