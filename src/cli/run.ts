/**
 * `emperor [options] MONITOR...`: runs the emperor in the foreground until SIGTERM or SIGINT.
 * Signals only enqueue what the control socket would run: SIGHUP reloads all, SIGUSR1 logs the
 * status table, the first SIGTERM/SIGINT stops every vassal gracefully and exits 0, a second one
 * kills them at once.
 */
import { readFile } from 'node:fs/promises';
import { detectFormat, parseConfig, sniffFormat } from '../config/load.js';
import type { RawConfig } from '../config/types.js';
import { Emperor } from '../core/emperor.js';
import { describeError, EmperorError, ErrorCodes } from '../errors.js';
import type { Logger, LogLevel } from '../log/logger.js';
import type { OutputSink } from '../log/output.js';
import { defaultControlPath } from '../ops/control-path.js';
import { Ops } from '../ops/index.js';
import { parseListenAddress } from '../ops/listen.js';
import type { StatusResult } from '../ops/status.js';
import { Isolation } from '../isolation/isolation.js';
import { PluginTable } from '../plugin-table.js';
import { setUpOutput } from './logging.js';
import { statusTable } from './status-table.js';
import { holdYoungGeneration } from './young-generation.js';

export interface RunOptions {
  freq: number;
  extraExtension: string[];
  throttle: number;
  maxThrottle: number;
  throttleReset: number;
  vassalsInclude: string[];
  vassalSet: string[];
  vassalsInherit: string[];
  uwsgiBinary: string;
  curseTolerance: number;
  gracefulShutdown: boolean;
  requiredHeartbeat: number;
  broodlord: number;
  settle: number;
  maxConfigSize: number;
  nodeName: string;
  stateDir: string;
  logFormat: 'auto' | 'json' | 'text';
  logLevel: LogLevel;
  plugin: string[];
  recentLines: number;
  /** --stats ADDR */
  stats?: string;
  statsHttp: boolean;
  /** --control PATH; false with --no-control; undefined: the default path. */
  control?: string | false;
  cgroupRoot: string;
  tyrant: boolean;
  tyrantNofollow: boolean;
  tyrantInitgroups: boolean;
}

export async function run(monitors: string[], opts: RunOptions): Promise<void> {
  holdYoungGeneration();
  if (monitors.length === 0) throw new EmperorError(ErrorCodes.USAGE, 'no monitor given: name at least one directory, glob or scheme://… source (see emperor --help)');
  const statsAddress = opts.stats === undefined ? undefined : parseListenAddress(opts.stats, '--stats');
  if (opts.statsHttp && !statsAddress) throw new EmperorError(ErrorCodes.USAGE, '--stats-http needs --stats ADDRESS (where to serve)', { key: 'stats-http' });
  const { log, output, flush } = setUpOutput(opts.logFormat, opts.logLevel);
  const plugins = new PluginTable();
  for (const p of opts.plugin) await plugins.addUserPlugin(p);
  const includes = await Promise.all(opts.vassalsInclude.map((f) => readInclude(f, opts.extraExtension)));
  const sets = opts.vassalSet.map(parseSet);
  if (!opts.tyrant && (opts.tyrantNofollow || opts.tyrantInitgroups)) {
    throw new EmperorError(ErrorCodes.USAGE, `${opts.tyrantNofollow ? '--tyrant-nofollow' : '--tyrant-initgroups'} only means something with --tyrant`, { key: 'tyrant' });
  }
  const isolation = await Isolation.create({ cgroupRoot: opts.cgroupRoot, tyrant: opts.tyrant, tyrantInitgroups: opts.tyrantInitgroups, log });

  const emperor = new Emperor({
    monitors,
    freq: opts.freq,
    extraExtensions: opts.extraExtension.map((e) => (e.startsWith('.') ? e : '.' + e)),
    backoff: { throttleMs: opts.throttle, maxThrottleMs: opts.maxThrottle, resetMs: opts.throttleReset },
    includes,
    sets,
    settleMs: opts.settle,
    maxConfigBytes: opts.maxConfigSize,
    nodeName: opts.nodeName,
    stateDir: opts.stateDir,
    tyrant: opts.tyrant,
    tyrantNofollow: opts.tyrantNofollow,
    isolation,
    log,
    output,
    plugins,
    recentLines: opts.recentLines,
    uwsgi: {
      binary: opts.uwsgiBinary,
      curseTolerance: opts.curseTolerance,
      gracefulShutdown: opts.gracefulShutdown,
      requiredHeartbeat: opts.requiredHeartbeat,
      broodlord: opts.broodlord,
      inherits: opts.vassalsInherit,
    },
  });
  const ops = new Ops(emperor, {
    log,
    ...(statsAddress ? { stats: { address: statsAddress, http: opts.statsHttp } } : {}),
    ...(opts.control === false ? {} : { control: { path: opts.control ?? defaultControlPath(), explicit: opts.control !== undefined } }),
  });

  let stopping = false;
  // The first reason to exit decides the code: a second SIGTERM's kill (1) is not overtaken by the
  // graceful stop (0) that completes once the kill has emptied the fleet.
  let exiting: Promise<never> | undefined;
  const exit = (code: number): Promise<never> => {
    exiting ??= flush().then(() => process.exit(code));
    return exiting;
  };
  const onStop = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log.warn(`${sig} again: killing every vassal now`, { event: 'kill' });
      emperor.kill();
      void exit(1);
      return;
    }
    stopping = true;
    log.info(`${sig}: stopping every vassal (send ${sig} again to kill them at once)`, { event: 'shutdown' });
    void emperor.close().then(() => ops.close()).then(() => exit(0));
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  // The same commands the control socket runs.
  process.on('SIGHUP', () => {
    void ops.commands.run({ cmd: 'reload-all' }).then((r) => log.info(`SIGHUP: ${(r as { message: string }).message}`, { event: 'reload-all' }), (err: unknown) => log.error(`SIGHUP: ${describeError(err)}`, { event: 'reload-all' }));
  });
  process.on('SIGUSR1', () => {
    void ops.commands.run({ cmd: 'status' }).then((r) => log.info('status\n' + statusTable((r as StatusResult).rows), { event: 'status' }), (err: unknown) => log.error(`SIGUSR1: ${describeError(err)}`, { event: 'status' }));
  });
  process.on('SIGPIPE', () => {});
  const fatal = (err: unknown): void => {
    log.error(`fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}; killing every vassal`, { event: 'fatal' });
    emperor.kill();
    void exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);

  await ops.start();
  try {
    await emperor.start();
  } catch (err) {
    // A bad monitor argument: leave no socket behind.
    await ops.close();
    throw err;
  }
  reportDroppedLines(output, log);
}

/** Lines dropped for a slow reader are said, not silently lost. */
function reportDroppedLines(output: OutputSink, log: Logger): void {
  let reported = 0;
  setInterval(() => {
    const n = output.dropped;
    if (n > reported) {
      log.warn(`${n - reported} vassal output lines dropped: the reader of the emperor's output is too slow (use logto for chatty vassals)`, { event: 'output-dropped', dropped: n - reported });
      reported = n;
    }
  }, 10_000).unref();
}

async function readInclude(file: string, extra: readonly string[]): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new EmperorError(ErrorCodes.USAGE, `--vassals-include ${file}: ${(err as Error).message}`, { key: 'vassals-include', cause: err });
  }
  const format = detectFormat(file, extra) ?? sniffFormat(text);
  try {
    return parseConfig({ text, format, path: file }, file);
  } catch (err) {
    throw new EmperorError(ErrorCodes.USAGE, `--vassals-include ${(err as EmperorError).located ?? (err as Error).message}`, { key: 'vassals-include', cause: err });
  }
}

function parseSet(s: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new EmperorError(ErrorCodes.USAGE, `--vassal-set expects key=value, got '${s}'`, { key: 'vassal-set' });
  return [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
}
