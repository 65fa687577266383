/**
 * The emperor's record of which vassal holds which cgroup, and the lifecycle of each: created
 * before a vassal's workers start, emptied and removed once the vassal has stopped. One cgroup
 * belongs to one vassal; in tyrant mode no vassal's cgroup may contain or lie inside another's
 * (a parent's limits and kills would reach the child).
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { applyCgroupOpts, cgroupPids, createCgroup, killCgroup, removeCgroup, signalCgroup } from './cgroup-fs.js';
import type { CgroupPlan } from './cgroup-plan.js';

interface Held {
  vassal: string;
  plan: CgroupPlan;
  /** Under --cgroup-root, or created by this emperor: it may be emptied and removed. */
  mayEmpty: boolean;
}

export interface CgroupStop {
  /** What goes first to members the workers' stop did not reach (processes that left their group). */
  signal: NodeJS.Signals;
  /** Past this moment (ms since the epoch: the stop's start plus stop-timeout) members are killed. */
  deadline: number;
}

/** How long removal retries while the kernel finishes tearing killed members down. */
const REMOVE_GRACE_MS = 5000;

export class CgroupKeeper {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly log: Logger,
    /** Refuse nested cgroups of different vassals (tyrant mode). */
    private readonly separate: boolean,
  ) {}

  /** The vassal holding this cgroup (by relative path), if any. */
  holder(relative: string): string | undefined {
    return this.held.get(relative)?.vassal;
  }

  /** Throws if `vassal` may not use this cgroup because another vassal holds it (or, separate, one around or inside it). */
  check(vassal: string, plan: CgroupPlan): void {
    for (const [rel, h] of this.held) {
      if (h.vassal === vassal) continue;
      if (rel === plan.relative) {
        throw new EmperorError(ErrorCodes.CONFIG_INVALID, `cgroup: ${plan.path} is already the cgroup of vassal '${h.vassal}'`, { key: 'cgroup' });
      }
      if (this.separate && (rel.startsWith(plan.relative + '/') || plan.relative.startsWith(rel + '/'))) {
        throw new EmperorError(ErrorCodes.PERMISSION, `cgroup: ${plan.path} would ${rel.startsWith(plan.relative + '/') ? 'contain' : 'lie inside'} the cgroup of vassal '${h.vassal}' (${h.plan.path}); tyrant mode keeps vassals' cgroups apart`, { key: 'cgroup' });
      }
    }
  }

  /**
   * Creates the cgroup and writes its options. Once created it is recorded, even if an option
   * fails, so the vassal's release removes it. A vassal's earlier cgroups that are empty now are
   * removed.
   */
  async prepare(vassal: string, plan: CgroupPlan): Promise<void> {
    this.check(vassal, plan);
    const before = this.held.get(plan.relative);
    // Reserved before any await: two vassals starting at once cannot both take it.
    this.held.set(plan.relative, { vassal, plan, mayEmpty: before?.mayEmpty ?? plan.managed });
    let created: boolean;
    try {
      created = await createCgroup(plan);
    } catch (err) {
      if (before === undefined) this.held.delete(plan.relative);
      else this.held.set(plan.relative, before);
      throw err;
    }
    this.held.set(plan.relative, { vassal, plan, mayEmpty: created || (before?.mayEmpty ?? plan.managed) });
    await applyCgroupOpts(plan);
    for (const [rel, h] of [...this.held]) {
      if (h.vassal !== vassal || rel === plan.relative || !h.mayEmpty) continue;
      if ((await cgroupPids(h.plan)).length > 0) continue;
      try {
        await removeCgroup(h.plan, Date.now());
        this.held.delete(rel);
      } catch {
        // Someone joined meanwhile; it is tried again when the vassal stops.
      }
    }
  }

  /**
   * After the vassal's workers have stopped: the stop signal to what is left in its cgroups, then
   * SIGKILL at the deadline, then removal. Never throws: problems are logged.
   */
  async release(vassal: string, stop: CgroupStop): Promise<void> {
    // Its records name the vassal: the emperor's log carries every vassal's cgroup events.
    const log = this.log.child({ vassal });
    for (const [rel, h] of [...this.held]) {
      if (h.vassal !== vassal) continue;
      this.held.delete(rel);
      if (!h.mayEmpty) {
        log.info(`cgroup ${h.plan.path} existed before and lies outside the cgroup root: left as it is`, { event: 'cgroup-kept', cgroup: h.plan.path });
        continue;
      }
      try {
        await this.empty(h.plan, stop, log);
        await removeCgroup(h.plan, Date.now() + REMOVE_GRACE_MS);
      } catch (err) {
        log.error(`${(err as Error).message}`, { event: 'cgroup-error', cgroup: h.plan.path });
      }
    }
  }

  private async empty(plan: CgroupPlan, stop: CgroupStop, log: Logger): Promise<void> {
    let left = await cgroupPids(plan);
    if (left.length === 0) return;
    if (Date.now() < stop.deadline) {
      log.info(`${left.length} process${left.length === 1 ? '' : 'es'} outside the workers' process groups still in cgroup ${plan.path} (${left.join(', ')}): sending ${stop.signal}`, { event: 'cgroup-stop', cgroup: plan.path, pids: left });
      await signalCgroup(plan, stop.signal);
      for (let wait = 10; Date.now() < stop.deadline; wait = Math.min(wait * 2, 100)) {
        await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, stop.deadline - Date.now()))));
        left = await cgroupPids(plan);
        if (left.length === 0) return;
      }
    }
    log.warn(`killing ${left.length} process${left.length === 1 ? '' : 'es'} left in cgroup ${plan.path} (${left.join(', ')})`, { event: 'cgroup-kill', cgroup: plan.path, pids: left });
    const survivors = await killCgroup(plan);
    if (survivors > 0) throw new EmperorError(ErrorCodes.SPAWN, `cgroup: ${survivors} process${survivors === 1 ? '' : 'es'} in ${plan.path} survived SIGKILL (uninterruptible I/O?)`, { key: 'cgroup' });
  }
}
