/**
 * The worker driver of a uWSGI vassal: its one worker is a uWSGI instance spoken to over the
 * emperor protocol (see run.ts), reloaded in place by byte 1 as long as nothing the emperor
 * itself sets up for it (command line, user, directory) changed.
 */
import type { DriverRun, SpawnContext, WorkerDriver } from '../core/driver.js';
import type { VassalPlan } from '../core/plan.js';
import { UwsgiRun, ZERG, type Brood } from './run.js';

export interface UwsgiDriverOptions {
  /** The command line of the instance, and of its zergs (section [zerg] of the same config). */
  argv: readonly string[];
  zergArgv: readonly string[];
  /** The config pushed over the config pipe; undefined when uWSGI reads a file. */
  pushed: string | undefined;
  curseToleranceMs: number;
  gracefulShutdown: boolean;
  requiredHeartbeatMs: number;
  brood: Brood;
}

export class UwsgiDriver implements WorkerDriver {
  readonly kind = 'uwsgi';

  constructor(readonly options: UwsgiDriverOptions) {}

  reloadsInPlace(from: VassalPlan, to: VassalPlan): boolean {
    const a = from.driver;
    const b = to.driver;
    if (!(a instanceof UwsgiDriver) || !(b instanceof UwsgiDriver)) return false;
    // A reloading uWSGI re-executes its own command line: whatever the emperor passes it at spawn
    // must not have changed.
    return (
      sameList(a.options.argv, b.options.argv) &&
      (a.options.pushed === undefined) === (b.options.pushed === undefined) &&
      from.worker.uid === to.worker.uid &&
      from.worker.gid === to.worker.gid &&
      from.worker.cwd === to.worker.cwd &&
      sameList(from.worker.cgroupProcs ?? [], to.worker.cgroupProcs ?? [])
    );
  }

  spawn(ctx: SpawnContext): DriverRun {
    const o = this.options;
    return new UwsgiRun({
      ctx,
      argv: ctx.variant === ZERG ? o.zergArgv : o.argv,
      pushed: o.pushed,
      pushedOf: (plan) => (plan.driver instanceof UwsgiDriver ? plan.driver.options.pushed : undefined),
      curseToleranceMs: o.curseToleranceMs,
      gracefulShutdown: o.gracefulShutdown,
      requiredHeartbeatMs: o.requiredHeartbeatMs,
      brood: o.brood,
    });
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
