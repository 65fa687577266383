/**
 * A vassal's plan: everything needed to run its workers, resolved from its config and spec before
 * anything is stopped or started, so a config that cannot run is refused while the old version
 * keeps running.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { VassalConfig } from '../config/types.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import { checkCgroupOpts } from '../isolation/cgroup-fs.js';
import { cgroupProcsFiles, planCgroup, type CgroupPlan } from '../isolation/cgroup-plan.js';
import type { CgroupSettings } from '../isolation/cgroup-path.js';
import { confineEventfd } from '../isolation/confine.js';
import { describeCredentials, helperCredentials, type Credentials } from '../isolation/credentials.js';
import { tyrantBaseEnv, tyrantIdentity, type TyrantIdentity, type TyrantSettings } from '../isolation/tyrant.js';
import { mayAccess, mayAppend, X } from '../isolation/user-access.js';
import type { VassalSpec } from '../monitors/types.js';
import type { WorkerDriver } from './driver.js';
import { findProgramNow } from './find-program.js';
import type { WorkerSpec } from './worker.js';

export interface VassalPlan {
  spec: VassalSpec;
  config: VassalConfig;
  /** What every worker of the vassal runs (the same for each). */
  worker: WorkerSpec;
  /** Its cgroup, when the config names one: created before the workers start, removed after they stop. */
  cgroup?: CgroupPlan;
  /**
   * Tyrant mode: who everything the vassal causes runs as (workers, cmd: actions, the opening of
   * its logto file, its file: probes).
   */
  credentials?: Credentials;
  /** How its workers run (src/uwsgi for uWSGI instances); absent: as plain processes. */
  driver?: WorkerDriver;
}

export interface PlanContext {
  /** The emperor's own environment, inherited by workers. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where vassals without chdir run: the config's directory, or the emperor's cwd. */
  defaultCwd: string;
  isRoot: boolean;
  /**
   * Where vassals' cgroups go (src/isolation), plus a check that refuses a cgroup another vassal
   * holds. Without it a `cgroup` key is refused.
   */
  cgroups?: CgroupSettings & { check?: (vassal: string, cgroup: CgroupPlan) => void };
  /** Tyrant mode: every vassal runs as its config's owner. */
  tyrant?: TyrantSettings;
}

/** Variables that belong to the emperor's own service manager, not to its vassals. */
const PRIVATE_ENV = ['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

export async function planVassal(spec: VassalSpec, config: VassalConfig, ctx: PlanContext): Promise<VassalPlan> {
  const origin = spec.config.path ?? `${spec.source}:${spec.name}`;
  const lineOf = (key: string): number | undefined => config.entries.find((e) => e.key === key)?.line;
  /** Errors from src/isolation name their key (and a cgroup-opt its `FILE=VALUE`); here they get the file and line too. */
  const locate = (err: unknown): unknown => {
    if (!(err instanceof EmperorError) || err.file !== undefined || err.key === undefined) return err;
    const entry = config.entries.find((e) => e.key === err.key && (err.key !== 'cgroup-opt' || err.message.startsWith(`cgroup-opt ${e.value}:`)));
    return new EmperorError(err.code, err.message, { file: origin, line: entry?.line ?? lineOf(err.key), key: err.key, cause: err.cause });
  };

  const tyrant: TyrantIdentity | undefined = ctx.tyrant ? await tyrantIdentity(spec, config, ctx.tyrant, { origin, lineOf }) : undefined;
  const who = tyrant?.credentials;
  const refuse = (key: string, what: string, reason: string): never => {
    throw new EmperorError(ErrorCodes.PERMISSION, `${key}: ${describeCredentials(who!)} ${what} (${reason})`, { file: origin, line: lineOf(key), key });
  };

  const env: Record<string, string> = {};
  if (tyrant) {
    Object.assign(env, tyrantBaseEnv(ctx.env, tyrant.user));
  } else {
    for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined && !PRIVATE_ENV.includes(k)) env[k] = v;
  }
  Object.assign(env, config.env);
  env.EMPEROR_VASSAL = spec.name;

  const cwd = config.chdir ? resolve(ctx.defaultCwd, config.chdir) : ctx.defaultCwd;
  try {
    // Synchronous, as the program lookup below: a metadata lookup on the way to a spawn.
    const st = statSync(cwd);
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `chdir: '${cwd}' is not a usable directory (${(err as Error).message})`, { file: origin, line: lineOf('chdir'), key: 'chdir', cause: err });
  }
  if (who) {
    const a = await mayAccess(cwd, who, X);
    if (!a.ok) refuse('chdir', `cannot enter '${cwd}'${config.chdir ? '' : ", the config's directory (set chdir)"}`, a.reason);
  }

  const program = config.command[0]!;
  const found = findProgramNow(program, cwd, env.PATH ?? '');
  if (!found) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `command: '${program}' ${program.includes('/') ? 'does not exist or is not executable' : 'not found in PATH'}`, { file: origin, line: lineOf('command'), key: 'command' });
  }
  if (who) {
    const a = await mayAccess(found, who, X);
    if (!a.ok) refuse('command', `cannot run '${found}'`, a.reason);
  }

  // As root, a PID namespace per worker: nothing it forks, even after setsid, outlives it.
  const worker: WorkerSpec = { argv: [...config.command], cwd, env, pidns: ctx.isRoot };
  if (who) {
    Object.assign(worker, helperCredentials(who));
  } else if (config.uid !== undefined || config.gid !== undefined) {
    if (!ctx.isRoot) {
      throw new EmperorError(ErrorCodes.CONFIG_INVALID, `uid/gid: switching user needs a root emperor`, { file: origin, line: lineOf(config.uid !== undefined ? 'uid' : 'gid'), key: config.uid !== undefined ? 'uid' : 'gid' });
    }
    if (config.uid !== undefined) worker.uid = await resolveId(config.uid, '/etc/passwd', 'uid', origin, lineOf('uid'));
    if (config.gid !== undefined) worker.gid = await resolveId(config.gid, '/etc/group', 'gid', origin, lineOf('gid'));
    else if (worker.uid !== undefined) worker.gid = await primaryGid(worker.uid);
  }

  let cgroup: CgroupPlan | undefined;
  try {
    if (config.cgroup !== undefined) {
      if (!ctx.cgroups) throw new EmperorError(ErrorCodes.CONFIG_INVALID, 'cgroup: this emperor runs without cgroup support', { key: 'cgroup' });
      cgroup = planCgroup(config.cgroup, config.cgroupOpts, ctx.cgroups);
      ctx.cgroups.check?.(spec.name, cgroup);
      await checkCgroupOpts(cgroup);
      worker.cgroupProcs = cgroupProcsFiles(cgroup);
    }
    if (who) {
      confineEventfd(config.alarmEventfd, cgroup?.path, { origin, lineOf: (value) => config.entries.find((e) => e.key === 'alarm-eventfd' && e.value === value)?.line });
    }
  } catch (err) {
    throw locate(err);
  }

  if (who && config.logto !== undefined) {
    const target = resolve(cwd, config.logto);
    const a = await mayAppend(target, who);
    if (!a.ok) refuse('logto', `may not append to '${target}'`, a.reason);
  }

  const plan: VassalPlan = { spec, config, worker };
  if (cgroup) plan.cgroup = cgroup;
  if (who) plan.credentials = who;
  return plan;
}

/** A user or group given by name or number. */
async function resolveId(value: string, db: string, key: string, origin: string, line: number | undefined): Promise<number> {
  if (/^\d+$/.test(value)) return Number(value);
  const text = await readFile(db, 'utf8').catch(() => '');
  for (const row of text.split('\n')) {
    const f = row.split(':');
    if (f[0] === value && f[2] !== undefined) return Number(f[2]);
  }
  throw new EmperorError(ErrorCodes.CONFIG_INVALID, `${key}: no such ${key === 'uid' ? 'user' : 'group'} '${value}'`, { file: origin, line, key });
}

async function primaryGid(uid: number): Promise<number> {
  const text = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const row of text.split('\n')) {
    const f = row.split(':');
    if (f[2] === String(uid) && f[3] !== undefined) return Number(f[3]);
  }
  return uid;
}
