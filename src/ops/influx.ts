/**
 * InfluxDB line protocol for every vassal, as ftw.monitor's dump-perf-metrics writes it for
 * Telegraf: one line per vassal in measurement `emperor_vassal`, tagged with the host and the
 * vassal, its fields the perf_metrics document flattened with `_` (instance_uptime, memory_rss…).
 */
import type { PerfMetrics } from './perf-metrics.js';

const escapeMeasurement = (s: string): string => s.replace(/[\\, ]/g, (c) => `\\${c}`);
const escapeTag = (s: string): string => s.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
const quote = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;

export interface InfluxOptions {
  measurement?: string;
  host: string;
  /** Nanoseconds since the epoch; one timestamp for the whole dump. */
  timestampNs: bigint;
}

export function influxLines(metrics: readonly PerfMetrics[], opts: InfluxOptions): string {
  const m = escapeMeasurement(opts.measurement ?? 'emperor_vassal');
  const lines = metrics.map((p) => {
    const tags = `host=${escapeTag(opts.host)},vassal=${escapeTag(p.instance.name)}`;
    const fields: string[] = [
      `state=${quote(p.instance.state)}`,
      `instance_uptime=${p.instance.uptime}i`,
      `instance_workers=${p.instance.workers}i`,
      `memory_rss=${p.memory.rss}i`,
      `memory_uss=${p.memory.uss}i`,
      `memory_pss=${p.memory.pss}i`,
      ...(p.memory.cgroup === undefined ? [] : [`memory_cgroup=${p.memory.cgroup}i`]),
      `restarts=${p.restarts}i`,
      `reloads=${p.reloads}i`,
      `alarms_fired=${p.alarms.fired}i`,
    ];
    return `${m},${tags} ${fields.join(',')} ${opts.timestampNs}`;
  });
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}
