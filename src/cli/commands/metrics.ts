/**
 * `emperor metrics`: the fleet's metrics in the Prometheus text format (as GET /metrics), or
 * `--influx`: InfluxDB line protocol, one line per vassal, for Telegraf's exec input, as
 * ftw.monitor's dump-perf-metrics; `--json`: the perf_metrics documents.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { influxLines } from '../../ops/influx.js';
import type { PerfMetrics } from '../../ops/perf-metrics.js';
import { controlCommand, print, withClient, type ControlOptions } from './client.js';

export function registerMetrics(program: Command): void {
  controlCommand(program, 'metrics', 'print the fleet\'s metrics: Prometheus text (default), InfluxDB line protocol or JSON')
    .addOption(new Option('--influx', 'InfluxDB line protocol, one line per vassal (for Telegraf)').conflicts('json'))
    .addOption(new Option('--json', 'the perf_metrics document of every vassal').conflicts('influx'))
    .option('--measurement <name>', 'InfluxDB measurement name', 'emperor_vassal')
    .action(async (opts: ControlOptions & { influx?: boolean; json?: boolean; measurement: string }) => {
      if (!opts.influx && !opts.json) {
        await print((await withClient(opts, (c) => c.request({ cmd: 'prometheus' }))) as string);
        return;
      }
      const perf = (await withClient(opts, (c) => c.request({ cmd: 'perf' }))) as { host: string; time: number; vassals: PerfMetrics[] };
      if (opts.json) {
        await print(JSON.stringify(perf, null, 2) + '\n');
        return;
      }
      await print(influxLines(perf.vassals, { host: perf.host, measurement: opts.measurement, timestampNs: BigInt(perf.time) * 1_000_000n }));
    });
}
