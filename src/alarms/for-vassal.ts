/**
 * Builds a vassal's alarm subsystem from its plan: only for configs that declare alarms, so a
 * vassal without any costs nothing here. Actions and triggers from plugins load on first use.
 */
import type { AlarmHost, VassalAlarms } from '../core/vassal.js';
import type { PluginTable } from '../plugin-table.js';
import type { CmdSandbox } from './actions/cmd.js';
import { AlarmSubsystem } from './subsystem.js';

export async function createVassalAlarms(host: AlarmHost, plugins: PluginTable): Promise<VassalAlarms | undefined> {
  const { config, worker, credentials, cgroup } = host.plan;
  if (config.alarms.length === 0) return undefined;
  const creds = credentials ?? (worker.uid !== undefined && worker.gid !== undefined ? { uid: worker.uid, gid: worker.gid } : undefined);
  // cmd: actions are held like the workers: same cgroup, same kind of namespace, same groups.
  const sandbox: CmdSandbox = {
    ...(worker.cgroupProcs ? { cgroupProcs: worker.cgroupProcs } : {}),
    ...(worker.pidns ? { pidns: true } : {}),
    ...(worker.initGroups !== undefined ? { initGroups: worker.initGroups } : {}),
  };
  return AlarmSubsystem.create(config, {
    vassal: host.vassal,
    log: host.log,
    signalWorkers: host.signalWorkers,
    pids: host.pids,
    ...(creds ? { credentials: { uid: creds.uid, gid: creds.gid } } : {}),
    ...(worker.cwd ? { cwd: worker.cwd } : {}),
    env: { ...worker.env },
    sandbox,
    ...(cgroup ? { cgroupPath: cgroup.path } : {}),
    resolveAction: (prefix) => plugins.action(prefix),
    resolveTrigger: (option) => plugins.trigger(option),
  });
}
