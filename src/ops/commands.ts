/**
 * The commands an operator runs: the control socket carries them, and signals only enqueue the
 * same ones (SIGHUP = reload-all, SIGUSR1 = status). Each answers with a result or throws an
 * EmperorError (EMP_ERR_CONTROL) that says why it was refused.
 */
import type { Emperor } from '../core/emperor.js';
import type { RecentLine, Vassal } from '../core/vassal.js';
import { closest } from '../config/suggest.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import { perfMetrics, type PerfMetrics } from './perf-metrics.js';
import type { FleetMetrics } from './prometheus.js';
import { RawJson } from './raw-json.js';
import { usageSpan, writeStatsJson } from './stats.js';
import { EntryTexts } from './stats-text.js';
import { NameOrder } from './name-order.js';
import { fleetStatus, type StatusResult } from './status.js';
import type { UsageSampler } from './usage.js';
import type { VassalServices } from './vassal-services.js';

export interface OpsContext {
  emperor: Emperor;
  sampler: UsageSampler;
  services: VassalServices;
  metrics: FleetMetrics;
}

/** What a control request may carry. */
export interface CommandRequest {
  cmd: string;
  name?: unknown;
  lines?: unknown;
  follow?: unknown;
}

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  ping: 'answers "pong": is the emperor there?',
  status: 'one row per vassal: state, pids, uptime, restarts, memory, CPU, alarms, health',
  stats: 'the stats document (as --stats serves it)',
  touch: 'reload one vassal with its current config {name}',
  destroy: 'stop one vassal until its config source announces it again {name}',
  'reload-all': 'reload every vassal (as SIGHUP)',
  unthrottle: 'restart vassals waiting in crash backoff now and forget their crash history {name?}',
  logs: 'a vassal\'s recent output lines {name, lines?, follow?}',
  perf: 'perf_metrics of every vassal (for emperor metrics --influx)',
  prometheus: 'the Prometheus text exposition (as GET /metrics)',
  help: 'this list',
};

export interface LogsResult {
  name: string;
  lines: RecentLine[];
  /** Lines the bounded buffer keeps per vassal. */
  capacity: number;
}

export class Commands {
  private readonly kept = { texts: new EntryTexts(usageSpan), order: new NameOrder() };

  constructor(private readonly ctx: OpsContext) {}

  /** Runs one request; `logs` with follow is the control server's business (see follow()). */
  async run(req: CommandRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'ping': return 'pong';
      case 'help': return COMMAND_HELP;
      case 'status': return this.status();
      case 'stats': return new RawJson(await this.statsPieces());
      case 'touch': return this.touch(requireName(req));
      case 'destroy': return this.destroy(requireName(req));
      case 'reload-all': return this.reloadAll();
      case 'unthrottle': return this.unthrottle(req.name === undefined || req.name === null ? undefined : requireName(req));
      case 'logs': return this.logs(requireName(req), optionalCount(req.lines, 'lines'));
      case 'perf': return this.perf();
      case 'prometheus': return this.ctx.metrics.metrics();
      default: {
        const hint = closest(req.cmd, Object.keys(COMMAND_HELP));
        throw refuse(`unknown command '${req.cmd}'${hint ? ` (did you mean '${hint}'?)` : ''}; known: ${Object.keys(COMMAND_HELP).join(', ')}`);
      }
    }
  }

  status(): Promise<StatusResult> {
    return this.ctx.emperor.answering(() => fleetStatus(this.ctx));
  }

  /** Writes the stats document as JSON text to `out`, piece by piece as it is built (what --stats serves). */
  writeStats(out: (piece: string) => void): Promise<void> {
    return this.ctx.emperor.answering(() => writeStatsJson(this.ctx, this.kept, out));
  }

  /** The stats document as JSON text, in pieces. */
  async statsPieces(): Promise<string[]> {
    const pieces: string[] = [];
    await this.writeStats((p) => pieces.push(p));
    return pieces;
  }

  touch(name: string): { name: string; message: string } {
    const resolved = this.resolve(name, { invalidToo: true });
    this.ctx.emperor.touch(resolved);
    return { name: resolved, message: `${resolved}: reload queued` };
  }

  destroy(name: string): { name: string; message: string } {
    const resolved = this.resolve(name, { invalidToo: true });
    this.ctx.emperor.destroy(resolved);
    return { name: resolved, message: `${resolved}: stopping; it stays down until its config source announces it again` };
  }

  reloadAll(): { count: number; message: string } {
    const count = this.ctx.emperor.reloadAll();
    return { count, message: `reloading ${count} vassal${count === 1 ? '' : 's'}` };
  }

  /** One vassal (refused if it is not in backoff), or every vassal in backoff. */
  unthrottle(name?: string): { names: string[]; message: string } {
    if (name !== undefined) {
      const v = this.vassal(name);
      if (v.state !== 'backoff' && v.crashLevel === 0) throw refuse(`vassal '${v.name}' is not in crash backoff (state: ${v.state})`);
      v.unthrottle();
      return { names: [v.name], message: `${v.name}: crash history forgotten, restarting now` };
    }
    const names: string[] = [];
    for (const v of this.ctx.emperor.vassals.values()) {
      if (v.state !== 'backoff') continue;
      v.unthrottle();
      names.push(v.name);
    }
    return { names, message: names.length === 0 ? 'no vassal is in crash backoff' : `restarting now: ${names.join(', ')}` };
  }

  logs(name: string, lines: number | undefined): LogsResult {
    const v = this.vassal(name);
    const all = v.recent.toArray();
    return { name: v.name, lines: lines === undefined ? all : lines === 0 ? [] : all.slice(-lines), capacity: v.recent.capacity };
  }

  /**
   * Follows a vassal's output: `onLine` for each new line, `onEnd` once when the vassal stops
   * (removed, destroyed, emperor shutting down). Returns the unsubscribe function.
   */
  follow(name: string, onLine: (l: RecentLine) => void, onEnd: (reason: string) => void): () => void {
    const v = this.vassal(name);
    const offLines = v.onOutput(onLine);
    let ended = false;
    const offChange = this.ctx.emperor.onVassalChange((x) => {
      if (x !== v || x.state !== 'stopped' || ended) return;
      ended = true;
      stop();
      onEnd(`vassal '${v.name}' stopped`);
    });
    const stop = (): void => {
      offLines();
      offChange();
    };
    return stop;
  }

  async perf(): Promise<{ host: string; time: number; vassals: PerfMetrics[] }> {
    const time = Date.now();
    const vassals = await Promise.all([...this.ctx.emperor.vassals.values()].map((v) => perfMetrics(v, this.ctx.sampler, time)));
    vassals.sort((a, b) => a.instance.name.localeCompare(b.instance.name));
    return { host: this.ctx.emperor.opts.nodeName, time, vassals };
  }

  /** A running vassal by name (its extension may be left out when that is unambiguous). */
  private vassal(name: string): Vassal {
    const resolved = this.resolve(name, { invalidToo: false });
    return this.ctx.emperor.vassals.get(resolved)!;
  }

  private resolve(name: string, opts: { invalidToo: boolean }): string {
    const { vassals, invalid } = this.ctx.emperor;
    if (vassals.has(name) || (opts.invalidToo && invalid.has(name))) return name;
    const inv = invalid.get(name);
    if (inv) throw refuse(`vassal '${name}' is not running: its config was rejected: ${inv.error}`);
    const known = [...vassals.keys(), ...(opts.invalidToo ? invalid.keys() : [])];
    const stem = known.filter((k) => k.replace(/\.[^.]*$/, '') === name);
    if (stem.length === 1) return stem[0]!;
    throw refuse(`no vassal named '${name}'${stem.length > 1 ? ` (ambiguous: ${stem.join(', ')})` : ''}`);
  }
}

export function refuse(message: string): EmperorError {
  return new EmperorError(ErrorCodes.CONTROL, message);
}

function requireName(req: CommandRequest): string {
  if (typeof req.name !== 'string' || req.name === '') throw refuse(`${req.cmd} needs "name": a vassal name, got ${JSON.stringify(req.name) ?? 'nothing'}`);
  return req.name;
}

function optionalCount(x: unknown, field: string): number | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw refuse(`"${field}" expects a non-negative integer, got ${JSON.stringify(x)}`);
  return x;
}
