/**
 * The cgroup file-system operations of a vassal's cgroup: create it (with what each kind of
 * hierarchy needs first), write its options, list and kill its members, remove it.
 */
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { CgroupDir, CgroupOptWrite, CgroupPlan } from './cgroup-plan.js';

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** "no such file or directory (ENOENT)" out of Node's "ENOENT: no such file or directory, open '…'". */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^([A-Z0-9]+): ([^,]+)/.exec(message);
  return m ? `${m[2]} (${m[1]})` : message;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** The equivalent file in the other cgroup version, for a message when a config names the wrong one. */
const OTHER_VERSION: Readonly<Record<string, string>> = {
  'memory.max': 'memory.limit_in_bytes',
  'memory.limit_in_bytes': 'memory.max',
  'memory.swap.max': 'memory.memsw.limit_in_bytes',
  'memory.memsw.limit_in_bytes': 'memory.swap.max',
  'memory.current': 'memory.usage_in_bytes',
  'memory.usage_in_bytes': 'memory.current',
  'memory.low': 'memory.soft_limit_in_bytes',
  'memory.soft_limit_in_bytes': 'memory.low',
  'cpu.max': 'cpu.cfs_quota_us',
  'cpu.cfs_quota_us': 'cpu.max',
  'cpu.weight': 'cpu.shares',
  'cpu.shares': 'cpu.weight',
};

/** `missing`: the file does not exist (cgroupfs answers a write to a missing file with EACCES). */
function optError(plan: CgroupPlan, o: CgroupOptWrite, file: string, err: unknown, missing: boolean): EmperorError {
  let why = reason(err);
  if (missing) {
    const other = OTHER_VERSION[o.file];
    const version = plan.dirs.find((d) => d.path === o.dir)?.version;
    why = `no such file in this cgroup v${version ?? '?'} hierarchy${other ? ` (its counterpart there may be ${other})` : ''}`;
  } else if (code(err) === 'EINVAL') {
    why = `the kernel refused the value '${o.value}'`;
  }
  return new EmperorError(ErrorCodes.CONFIG_INVALID, `cgroup-opt ${o.file}=${o.value}: cannot write ${file}: ${why}`, { key: 'cgroup-opt', cause: err });
}

/** v1 cpuset cgroups accept no process until cpus and mems are set: inherit the parent's. */
async function initCpuset(dir: string): Promise<void> {
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const own = await readFile(`${dir}/${f}`, 'utf8').catch(() => undefined);
    if (own === undefined || own.trim() !== '') continue;
    await writeFile(`${dir}/${f}`, await readFile(`${dirname(dir)}/${f}`, 'utf8'));
  }
}

/** v2: a controller is usable in a cgroup only once every ancestor enables it for its children. */
async function enableControllers(parent: string, controllers: readonly string[]): Promise<void> {
  if (controllers.length === 0) return;
  const enabled = (await readFile(`${parent}/cgroup.subtree_control`, 'utf8')).split(/\s+/);
  const missing = controllers.filter((c) => !enabled.includes(c));
  if (missing.length === 0) return;
  try {
    await writeFile(`${parent}/cgroup.subtree_control`, missing.map((c) => `+${c}`).join(' '));
  } catch (err) {
    const why = code(err) === 'EBUSY' ? 'it has processes of its own (cgroup v2 enables controllers for children only in cgroups without members)' : reason(err);
    throw new EmperorError(ErrorCodes.SPAWN, `cgroup: cannot enable ${missing.join(', ')} for the children of ${parent}: ${why}`, { key: 'cgroup', cause: err });
  }
}

/** Creates one hierarchy's directory and its missing ancestors; true if the vassal's own directory is new. */
async function createDir(d: CgroupDir): Promise<boolean> {
  const levels = d.path.slice(d.mount.length + 1).split('/');
  let current = d.mount;
  let created = false;
  for (const level of levels) {
    if (d.version === 2) await enableControllers(current, d.controllers);
    current = `${current}/${level}`;
    try {
      await mkdir(current);
      created = true;
      if (d.version === 1 && d.controllers.includes('cpuset')) await initCpuset(current);
    } catch (err) {
      if (code(err) !== 'EEXIST') {
        throw new EmperorError(ErrorCodes.SPAWN, `cgroup: cannot create ${current}: ${reason(err)}`, { key: 'cgroup', cause: err });
      }
      created = false;
    }
  }
  return created;
}

/**
 * Before anything is stopped for a new config: every cgroup-opt file exists in its hierarchy,
 * looked up in the vassal's cgroup or its nearest existing ancestor (a v2 root cgroup has no
 * controller files, so there the check waits for the creation).
 */
export async function checkCgroupOpts(plan: CgroupPlan): Promise<void> {
  for (const o of plan.opts) {
    const d = plan.dirs.find((x) => x.path === o.dir);
    if (d === undefined) continue;
    let dir = o.dir;
    while (dir !== d.mount && !(await exists(dir))) dir = dirname(dir);
    if (dir === d.mount && d.version === 2) continue;
    try {
      await access(`${dir}/${o.file}`);
    } catch (err) {
      throw optError(plan, o, `${o.dir}/${o.file}`, err, code(err) === 'ENOENT');
    }
  }
}

/** Creates the cgroup in every hierarchy of the plan. True if it is new somewhere. */
export async function createCgroup(plan: CgroupPlan): Promise<boolean> {
  let created = false;
  for (const d of plan.dirs) if (await createDir(d)) created = true;
  return created;
}

/** Writes the cgroup's options, in the order the config gives them (v1 memsw before memory, say). */
export async function applyCgroupOpts(plan: CgroupPlan): Promise<void> {
  for (const o of plan.opts) {
    const file = `${o.dir}/${o.file}`;
    try {
      await writeFile(file, o.value);
    } catch (err) {
      throw optError(plan, o, file, err, !(await exists(file)));
    }
  }
}

/** Every process in the cgroup, over all its hierarchies (never this process). */
export async function cgroupPids(plan: CgroupPlan): Promise<number[]> {
  const pids = new Set<number>();
  for (const d of plan.dirs) {
    const text = await readFile(`${d.path}/cgroup.procs`, 'utf8').catch(() => '');
    for (const l of text.split('\n')) {
      const pid = Number(l);
      if (l !== '' && Number.isInteger(pid) && pid > 1 && pid !== process.pid) pids.add(pid);
    }
  }
  return [...pids];
}

/** Sends `signal` to every member; returns how many it reached. */
export async function signalCgroup(plan: CgroupPlan, signal: NodeJS.Signals): Promise<number> {
  let n = 0;
  for (const pid of await cgroupPids(plan)) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      // Gone already.
    }
  }
  return n;
}

async function hasChildCgroups(dir: string): Promise<boolean> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.some((e) => e.isDirectory());
}

/**
 * Kills every member. v2's cgroup.kill does it atomically (not where child cgroups exist: it would
 * reach into them); the procs lists are then killed round by round until empty, or `rounds` ran.
 * Resolves with the number of processes still there at the end (0: empty).
 */
export async function killCgroup(plan: CgroupPlan, rounds = 50): Promise<number> {
  for (const d of plan.dirs) {
    if (d.version !== 2 || (await hasChildCgroups(d.path))) continue;
    await writeFile(`${d.path}/cgroup.kill`, '1').catch(() => undefined);
  }
  for (let i = 0; i < rounds; i++) {
    const pids = await cgroupPids(plan);
    if (pids.length === 0) return 0;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    // A killed process leaves the list once the kernel has torn it down.
    await new Promise((r) => setTimeout(r, Math.min(5 * 2 ** i, 100)));
  }
  return (await cgroupPids(plan)).length;
}

/**
 * Removes the vassal's directory in every hierarchy, retrying while the kernel still counts a
 * dying member (EBUSY) until `deadline` (ms since the epoch). Leaves ancestors alone.
 */
export async function removeCgroup(plan: CgroupPlan, deadline: number): Promise<void> {
  for (const d of [...plan.dirs].reverse()) {
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      try {
        await rmdir(d.path);
        break;
      } catch (err) {
        if (code(err) === 'ENOENT') break;
        if (code(err) !== 'EBUSY' || Date.now() >= deadline) {
          const why = code(err) !== 'EBUSY'
            ? reason(err)
            : (await hasChildCgroups(d.path)) ? 'it has child cgroups' : `processes are still in it (${(await cgroupPids(plan)).join(', ') || 'exiting'})`;
          throw new EmperorError(ErrorCodes.SPAWN, `cgroup: cannot remove ${d.path}: ${why}`, { key: 'cgroup', cause: err });
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
