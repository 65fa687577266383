/**
 * A vassal's plan: everything needed to run its workers, resolved from its config and spec before
 * anything is stopped or started, so a config that cannot run is refused while the old version
 * keeps running.
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { VassalConfig } from '../config/types.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { VassalSpec } from '../monitors/types.js';
import type { WorkerSpec } from './worker.js';

export interface VassalPlan {
  spec: VassalSpec;
  config: VassalConfig;
  /** What every worker of the vassal runs (the same for each). */
  worker: WorkerSpec;
}

export interface PlanContext {
  /** The emperor's own environment, inherited by workers. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where vassals without chdir run: the config's directory, or the emperor's cwd. */
  defaultCwd: string;
  isRoot: boolean;
}

/** Variables that belong to the emperor's own service manager, not to its vassals. */
const PRIVATE_ENV = ['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

export async function planVassal(spec: VassalSpec, config: VassalConfig, ctx: PlanContext): Promise<VassalPlan> {
  const origin = spec.config.path ?? `${spec.source}:${spec.name}`;
  const lineOf = (key: string): number | undefined => config.entries.find((e) => e.key === key)?.line;

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined && !PRIVATE_ENV.includes(k)) env[k] = v;
  Object.assign(env, config.env);
  env.EMPEROR_VASSAL = spec.name;

  const cwd = config.chdir ? resolve(ctx.defaultCwd, config.chdir) : ctx.defaultCwd;
  try {
    const st = await stat(cwd);
    if (!st.isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `chdir: '${cwd}' is not a usable directory (${(err as Error).message})`, { file: origin, line: lineOf('chdir'), key: 'chdir', cause: err });
  }

  const program = config.command[0]!;
  const found = await findProgram(program, cwd, env.PATH ?? '');
  if (!found) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `command: '${program}' ${program.includes('/') ? 'does not exist or is not executable' : 'not found in PATH'}`, { file: origin, line: lineOf('command'), key: 'command' });
  }

  // As root, a PID namespace per worker: nothing it forks, even after setsid, outlives it.
  const worker: WorkerSpec = { argv: [...config.command], cwd, env, pidns: ctx.isRoot };
  if (config.uid !== undefined || config.gid !== undefined) {
    if (!ctx.isRoot) {
      throw new EmperorError(ErrorCodes.CONFIG_INVALID, `uid/gid: switching user needs a root emperor`, { file: origin, line: lineOf(config.uid !== undefined ? 'uid' : 'gid'), key: config.uid !== undefined ? 'uid' : 'gid' });
    }
    if (config.uid !== undefined) worker.uid = await resolveId(config.uid, '/etc/passwd', 'uid', origin, lineOf('uid'));
    if (config.gid !== undefined) worker.gid = await resolveId(config.gid, '/etc/group', 'gid', origin, lineOf('gid'));
    else if (worker.uid !== undefined) worker.gid = await primaryGid(worker.uid);
  }
  return { spec, config, worker };
}

async function findProgram(program: string, cwd: string, path: string): Promise<string | undefined> {
  const candidates = program.includes('/') ? [isAbsolute(program) ? program : join(cwd, program)] : path.split(delimiter).filter(Boolean).map((d) => join(isAbsolute(d) ? d : join(cwd, d), program));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if ((await stat(c)).isFile()) return c;
    } catch {
      // next candidate
    }
  }
  return undefined;
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
