/**
 * The emperor's side of its uWSGI vassals (`[uwsgi]` sections without `command`): it turns such a
 * config into a plan that runs the uwsgi binary on the file unchanged, over the emperor protocol,
 * and holds what they share: the broodlord zerg count and the private copies of large pushed
 * configs. One per emperor, created on the first uWSGI vassal.
 */
import { resolve } from 'node:path';
import type { VassalPlan } from '../core/plan.js';
import type { UwsgiVassalConfig, VassalConfig } from '../config/types.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { VassalSpec } from '../monitors/types.js';
import { uwsgiArgv } from './argv.js';
import { findProgramNow } from '../core/find-program.js';
import { fitsPacket } from './config-packet.js';
import { UwsgiDriver } from './driver.js';
import { uwsgiVassalEnv } from './env.js';
import { defaultRuntimeRoot, PrivateConfigs } from './private-config.js';
import { ZERG_SECTION } from './protocol.js';
import type { Brood } from './run.js';
import { uwsgiVassalConfig } from './vassal-config.js';

export interface UwsgiOptions {
  /** The uwsgi binary: a path, or a name looked up in PATH (`--uwsgi-binary`). */
  binary: string;
  /** Seconds a stopped instance may take to exit before SIGKILL (`--curse-tolerance`). */
  curseTolerance: number;
  /** Stop with byte 2 (graceful: requests in flight complete) instead of 0 (`--graceful-shutdown`). */
  gracefulShutdown: boolean;
  /** Seconds of silence after a first heartbeat before the instance is killed and respawned; 0: off (`--required-heartbeat`). */
  requiredHeartbeat: number;
  /** Zergs that may run at once across the emperor; 0: SOS is refused (`--broodlord`). */
  broodlord: number;
  /** `--vassals-inherit` templates, passed as `--inherit` (uWSGI reads them; the emperor does not). */
  inherits: readonly string[];
  /** Where private copies of large pushed configs go (default: /run as root, else $XDG_RUNTIME_DIR or the temp dir). */
  runtimeDir?: string;
}

export const UWSGI_DEFAULTS = {
  binary: 'uwsgi',
  curseTolerance: 30,
  gracefulShutdown: false,
  requiredHeartbeat: 30,
  broodlord: 0,
} as const;

export interface UwsgiPlanContext {
  /** --vassals-include files (their paths), passed as `--include`. */
  includes: readonly string[];
  /** --vassal-set values, passed as `--set K=V`. */
  sets: readonly (readonly [string, string])[];
  /** The emperor's environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where vassals start: the config's directory, or the emperor's cwd for configs without a file. */
  cwd: string;
  /** The emperor manages cgroups (then it creates and cleans the cgroup a uWSGI config names). */
  cgroups: boolean;
  /** Resolves the rest of the plan (credentials, cgroup, directory checks) for a config and environment. */
  planBase(config: VassalConfig, env: Readonly<Record<string, string | undefined>>): Promise<VassalPlan>;
}

export class UwsgiRuntime {
  private readonly brood: Brood;
  private readonly copies: PrivateConfigs;

  constructor(private readonly opts: UwsgiOptions) {
    this.brood = { limit: opts.broodlord, count: 0 };
    this.copies = new PrivateConfigs(opts.runtimeDir ?? defaultRuntimeRoot());
  }

  /** The plan of a uWSGI vassal; throws a located CONFIG_INVALID when it cannot run. */
  async plan(spec: VassalSpec, config: UwsgiVassalConfig, ctx: UwsgiPlanContext): Promise<VassalPlan> {
    const origin = spec.config.path ?? `${spec.source}:${spec.name}`;
    const env = uwsgiVassalEnv(ctx.env);
    const { binary } = this.opts;
    const program = findProgramNow(binary, ctx.cwd, env.PATH ?? '');
    if (program === undefined) {
      const where = binary.includes('/') ? 'does not exist or is not executable' : 'is not in PATH';
      throw new EmperorError(
        ErrorCodes.CONFIG_INVALID,
        `this config is a uWSGI instance ([uwsgi] section without 'command'), and the uwsgi binary '${binary}' ${where}: install uWSGI (Debian: apt-get install uwsgi uwsgi-plugin-python3) or name it with --uwsgi-binary`,
        { file: origin, key: 'uwsgi-binary' },
      );
    }

    // A file is read by uWSGI itself (and re-read on reload); a config from a row or a message
    // is pushed over the config pipe, or, beyond what the pipe's 16-bit size can carry, handed
    // over as a private file.
    const fromSource = spec.pushed === true || spec.config.path === undefined;
    const pipe = fromSource && fitsPacket(spec.config.text);
    const copy = fromSource && !pipe;
    const target = !fromSource ? spec.config.path! : pipe ? `emperor://${spec.name}` : await this.copies.pathFor(spec.name);
    // The path found, not the name: the plan's own check of the command and the exec helper's
    // execvp then go straight to it, where a name would be searched along PATH twice more.
    const argvOf = (t: string): string[] =>
      uwsgiArgv({ binary: program, name: spec.config.path ?? spec.name, target: t, inherits: this.opts.inherits.map((f) => resolve(f)), includes: ctx.includes.map((f) => resolve(f)), sets: ctx.sets });
    const argv = argvOf(target);

    const base = await ctx.planBase(uwsgiVassalConfig(config, { argv, curseToleranceS: this.opts.curseTolerance, origin, manageCgroup: ctx.cgroups }), env);
    if (copy) await this.copies.write(spec.name, spec.config.text, { uid: base.worker.uid, gid: base.worker.gid });
    const driver = new UwsgiDriver({
      argv,
      zergArgv: argvOf(`${target}:${ZERG_SECTION}`),
      pushed: pipe ? spec.config.text : undefined,
      curseToleranceMs: this.opts.curseTolerance * 1000,
      gracefulShutdown: this.opts.gracefulShutdown,
      requiredHeartbeatMs: this.opts.requiredHeartbeat * 1000,
      brood: this.brood,
    });
    // No pid namespace: uWSGI is a process manager whose pids users script against (pidfile,
    // `uwsgi --reload`, its stats); its workers die with their master, the master dies with the
    // emperor (the exec helper's parent-death signal), and a stop SIGKILLs the whole group.
    return { ...base, worker: { ...base.worker, pidns: false }, driver };
  }

  /** Drops what the emperor kept for a vassal that is gone (its private config copy). */
  async forget(name: string): Promise<void> {
    await this.copies.remove(name);
  }

  /** Removes every private copy. Idempotent. */
  close(): Promise<void> {
    return this.copies.close();
  }
}

