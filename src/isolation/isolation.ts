/**
 * The emperor's isolation: vassals' cgroups and tyrant mode, behind the few calls the emperor and
 * each vassal make. Created once at start (`--cgroup-root`, `--tyrant`, `--tyrant-initgroups`).
 */
import { resolve } from 'node:path';
import { PlaceholderError, type Computed } from '../config/placeholders.js';
import type { PlanContext, VassalPlan } from '../core/plan.js';
import { EmperorError, ErrorCodes, isEmperorError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { VassalSpec } from '../monitors/types.js';
import { describeLayout, detectCgroupLayout, type CgroupLayout } from './cgroup-layout.js';
import { CgroupKeeper } from './cgroup-keeper.js';
import { DEFAULT_CGROUP_ROOT, normalizeCgroupRoot, resolveCgroupPath, type CgroupSettings } from './cgroup-path.js';
import { userById } from './passwd.js';
import { assertTyrantAllowed, ownerChanged, tyrantBaseEnv, type TyrantSettings } from './tyrant.js';
import { mayAccess, W } from './user-access.js';
import { openAppendAsUser } from './user-open.js';

export interface IsolationOptions {
  /** `--cgroup-root`: where relative cgroup names go, below every hierarchy's mount. Default `emperor`. */
  cgroupRoot?: string;
  /** `--tyrant`: every vassal runs as its config's owner. Needs root. */
  tyrant: boolean;
  /** `--tyrant-initgroups`: tyrant vassals keep their user's supplementary groups. */
  tyrantInitgroups: boolean;
  log: Logger;
  /** The host's cgroup layout; read from /proc when not given. */
  layout?: CgroupLayout;
  /** Whether the emperor runs as root (default: its uid is 0). */
  isRoot?: boolean;
}

/** What one vassal calls, bound to its name. */
export interface VassalIsolation {
  /** Before the plan's first worker spawns (first thing of attach): creates its cgroup and writes its options. */
  prepare(plan: VassalPlan): Promise<void>;
  /**
   * What the plan's logto output opens: the path, or in tyrant mode a descriptor the vassal's user
   * opened (FileOutput takes either). Undefined without logto. Rejects with a PERMISSION error.
   */
  logTarget(plan: VassalPlan): Promise<string | number | undefined>;
  /**
   * Tyrant mode: whether a readiness probe may look at a path, judged with the user's rights
   * (`file:` the file is visible to the user; `unix:` the user could connect, i.e. write the
   * socket). Undefined outside tyrant mode: the probes check as they always do.
   */
  probeAccess(plan: VassalPlan): ((kind: 'file' | 'unix', path: string) => Promise<boolean>) | undefined;
  /**
   * After the vassal has stopped (workers gone, alarms closed): what is left in its cgroups gets
   * the stop signal, SIGKILL at `stopBegan` + stop-timeout, then the cgroups are removed. Never rejects.
   */
  release(plan: VassalPlan, stopBegan: number): Promise<void>;
}

export class Isolation {
  readonly cgroups: CgroupSettings;
  readonly tyrant: TyrantSettings | undefined;
  private readonly keeper: CgroupKeeper;

  private constructor(cgroups: CgroupSettings, tyrant: TyrantSettings | undefined, log: Logger) {
    this.cgroups = cgroups;
    this.tyrant = tyrant;
    this.keeper = new CgroupKeeper(log, tyrant !== undefined);
  }

  /** Throws a USAGE error for `--tyrant` without root, or a cgroup root tyrant mode cannot confine to. */
  static async create(opts: IsolationOptions): Promise<Isolation> {
    if (opts.tyrant) assertTyrantAllowed(opts.isRoot ?? process.getuid?.() === 0);
    const root = normalizeCgroupRoot(opts.cgroupRoot ?? DEFAULT_CGROUP_ROOT);
    if (opts.tyrant && root === '') {
      throw new EmperorError(ErrorCodes.USAGE, '--cgroup-root: tyrant mode confines vassals\' cgroups under it, so it cannot be the hierarchies\' root (got \'/\')', { key: 'cgroup-root' });
    }
    const layout = opts.layout ?? (await detectCgroupLayout());
    opts.log.debug(`cgroups: ${describeLayout(layout)}; vassal cgroups go under '${root || '/'}'`, { event: 'cgroup-layout' });
    return new Isolation({ layout, root, confine: opts.tyrant }, opts.tyrant ? { initGroups: opts.tyrantInitgroups } : undefined, opts.log);
  }

  /**
   * For LoadOptions.computed: %(cgroup) is the absolute path of the vassal's cgroup (in the
   * memory controller's hierarchy where there is one), computed from its `cgroup` value.
   */
  computed(): Record<string, Computed> {
    return {
      cgroup: (value) => {
        if (value === undefined) return undefined;
        try {
          return resolveCgroupPath(value, this.cgroups).path;
        } catch (err) {
          if (isEmperorError(err)) throw new PlaceholderError(`%(cgroup): ${err.message}`);
          throw err;
        }
      },
    };
  }

  /**
   * For LoadOptions.env: what `$(VAR)` in a vassal's config reads. In tyrant mode the vassal's
   * base environment (locale, PATH, its user's HOME, USER...), never the root emperor's own
   * variables (they may hold its database passwords); otherwise the emperor's environment.
   */
  async placeholderEnv(spec: Pick<VassalSpec, 'uid'>, emperorEnv: Readonly<Record<string, string | undefined>> = process.env): Promise<Readonly<Record<string, string | undefined>>> {
    if (!this.tyrant) return emperorEnv;
    return tyrantBaseEnv(emperorEnv, spec.uid === undefined ? undefined : await userById(spec.uid));
  }

  /** The fields of PlanContext isolation owns. */
  planContext(): Pick<PlanContext, 'cgroups' | 'tyrant'> {
    const ctx: Pick<PlanContext, 'cgroups' | 'tyrant'> = { cgroups: { ...this.cgroups, check: (vassal, cgroup) => this.keeper.check(vassal, cgroup) } };
    if (this.tyrant) ctx.tyrant = this.tyrant;
    return ctx;
  }

  /** Tyrant mode: a running vassal whose config changed owner is stopped, not reloaded as someone else. */
  stopsOnChange(prev: Pick<VassalSpec, 'uid' | 'gid'>, next: Pick<VassalSpec, 'uid' | 'gid'>): boolean {
    return this.tyrant !== undefined && ownerChanged(prev, next);
  }

  forVassal(name: string): VassalIsolation {
    return {
      prepare: async (plan) => {
        if (plan.cgroup) await this.keeper.prepare(name, plan.cgroup);
      },
      logTarget: async (plan) => {
        const logto = plan.config.logto;
        if (logto === undefined) return undefined;
        // Relative to the vassal's working directory, as its workers would see it.
        const cwd = plan.worker.cwd ?? process.cwd();
        if (!plan.credentials) return resolve(cwd, logto);
        return openAppendAsUser(resolve(cwd, logto), plan.credentials, { cwd, key: 'logto' });
      },
      probeAccess: (plan) => {
        const who = plan.credentials;
        if (!who) return undefined;
        const cwd = plan.worker.cwd ?? process.cwd();
        return async (kind, path) => (await mayAccess(resolve(cwd, path), who, kind === 'unix' ? W : 0)).ok;
      },
      release: (plan, stopBegan) =>
        this.keeper.release(name, { signal: plan.config.stopSignal, deadline: stopBegan + plan.config.stopTimeout * 1000 }),
    };
  }

  /** The vassal holding a cgroup (by its path below the mounts), for status and tests. */
  cgroupHolder(relative: string): string | undefined {
    return this.keeper.holder(relative);
  }
}
