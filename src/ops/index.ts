/**
 * Wires what operators use around a running emperor: per-vassal services (monitor servers,
 * warmups), the stats server, the control socket and the commands they share with signals.
 */
import type { Emperor } from '../core/emperor.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { Commands } from './commands.js';
import { ControlServer } from './control-server.js';
import type { ListenAddress } from './listen.js';
import { FleetMetrics } from './prometheus.js';
import { statsDocument } from './stats.js';
import { StatsServer } from './stats-server.js';
import { UsageSampler } from './usage.js';
import { VassalServices } from './vassal-services.js';

export interface OpsOptions {
  log: Logger;
  stats?: { address: ListenAddress; http: boolean };
  /** explicit: given with --control (a failure stops the emperor); otherwise the default path,
   *  which another emperor may already hold (then this one runs without a control socket). */
  control?: { path: string; explicit: boolean };
}

export class Ops {
  readonly commands: Commands;
  readonly services: VassalServices;
  private readonly sampler: UsageSampler;
  private readonly metrics: FleetMetrics;
  private stats: StatsServer | undefined;
  private control: ControlServer | undefined;
  private closing: Promise<void> | undefined;

  constructor(emperor: Emperor, private readonly opts: OpsOptions) {
    this.sampler = new UsageSampler(() => emperor.vassals.values());
    this.services = new VassalServices(emperor, { log: opts.log, sampler: this.sampler });
    const ctx = { emperor, sampler: this.sampler, services: this.services };
    this.metrics = new FleetMetrics(() => statsDocument(ctx));
    this.commands = new Commands({ ...ctx, metrics: this.metrics });
  }

  /** Starts before the emperor's monitors, so every vassal's services follow it from birth. */
  async start(): Promise<void> {
    this.services.start();
    if (this.opts.stats) {
      const server = new StatsServer({ ...this.opts.stats, writeStats: (out) => this.commands.writeStats(out), metrics: this.metrics, log: this.opts.log });
      await server.start();
      this.stats = server;
    }
    if (this.opts.control) {
      const server = new ControlServer(this.opts.control.path, this.commands, this.opts.log);
      try {
        await server.start();
        this.control = server;
      } catch (err) {
        if (this.opts.control.explicit) throw err;
        this.opts.log.warn(`running without a control socket: ${describeError(err)} (choose another with --control PATH)`, { event: 'control-unavailable' });
      }
    }
  }

  /** The address the stats server is bound to (with the real port), when it runs. */
  statsAddress(): string | undefined {
    return this.stats?.where();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.sampler.close();
      await Promise.all([this.stats?.close(), this.control?.close()]);
      await this.services.close();
    })();
    return this.closing;
  }
}
