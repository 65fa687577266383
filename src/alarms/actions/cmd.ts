/**
 * `cmd:COMMAND`: runs COMMAND with /bin/sh -c, the alarm message on its stdin. It runs with the
 * vassal's credentials, cwd and environment (in tyrant mode a vassal's alarm can do nothing its
 * owner could not), in its own process group, and the whole group is killed when the run is
 * aborted (timeout, vassal stop). Its output is logged, marked as alarm output so that no
 * log-alarm rule can match it.
 *
 * Through the exec helper it is held like the vassal's workers: in the vassal's cgroup (its limits
 * apply, and what it leaves behind is killed when the vassal stops), in a pid namespace of its own
 * when the emperor is root (nothing it forks outlives it), with no_new_privs under the vassal's
 * credentials (no setuid program gives it more), and it dies with the emperor.
 */
import { EmperorError, ErrorCodes } from '../../errors.js';
import { execHelperArgs, execHelperPath, type ExecHelperOptions } from '../../native/exec-helper.js';
import type { AlarmActionFactory, AlarmActionHost } from '../../plugin.js';
import { ALARM_LOG_PREFIX } from '../prefix.js';
import { startCommand, type CommandProcess } from './cmd-process.js';
import { CommandStandby } from './cmd-standby.js';

/** How the vassal's workers are held, for the commands its alarms run. */
export interface CmdSandbox {
  /** cgroup.procs files of the vassal's cgroup, joined before the command runs. */
  cgroupProcs?: readonly string[];
  /** A pid namespace of its own (root only). */
  pidns?: boolean;
  /** With credentials: initgroups() for this user instead of no supplementary groups. */
  initGroups?: string;
}

/** The action host as the alarm subsystem builds it for built-in actions. */
export type CmdActionHost = AlarmActionHost & {
  sandbox?: CmdSandbox;
  /** The alarm the action belongs to: with it, commands held in a cgroup start ahead of need. */
  alarm?: string;
};

/** Bytes of the command's output kept for the log. */
export const CMD_OUTPUT_LIMIT = 4096;

/** What a command sees when it runs as another user and the vassal gave no environment. */
const MINIMAL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function commandEnv(host: AlarmActionHost, alarm: string): NodeJS.ProcessEnv {
  // The emperor's own environment may hold secrets; a command running as a vassal's user gets
  // only the vassal's environment.
  const base: Record<string, string | undefined> = host.env ?? (host.credentials ? { PATH: MINIMAL_PATH } : process.env);
  return { ...base, EMPEROR_ALARM: alarm, EMPEROR_VASSAL: host.vassal };
}

/**
 * With credentials the shell changes directory itself, after the uid switch: the child's chdir
 * happens before it drops root, so a cwd its user may not enter would otherwise be entered.
 */
function shellArgs(command: string, host: AlarmActionHost): string[] {
  if (host.credentials === undefined || host.cwd === undefined) return ['-c', command];
  return ['-c', 'cd -- "$0" && exec /bin/sh -c "$1"', host.cwd, command];
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** The exec helper's options: the vassal's cgroup and namespace, its credentials without a way back up. */
function helperOptions(host: CmdActionHost): ExecHelperOptions {
  const c = host.credentials;
  const sb = host.sandbox ?? {};
  return {
    ...(sb.cgroupProcs && sb.cgroupProcs.length > 0 ? { cgroupProcs: sb.cgroupProcs } : {}),
    ...(sb.pidns ? { pidns: true } : {}),
    ...(c ? { uid: c.uid, gid: c.gid, noNewPrivs: true, ...(sb.initGroups !== undefined ? { initGroups: sb.initGroups } : {}) } : {}),
  };
}

/** Held: the process joins the vassal's cgroup, then waits for CommandProcess.release(). */
function spawnShell(command: string, host: CmdActionHost, env: NodeJS.ProcessEnv, held = false): CommandProcess {
  const cwd = host.credentials ? '/' : host.cwd;
  const helper = execHelperPath();
  if (helper) {
    const opts = { ...helperOptions(host), ...(held ? { holdFd: 3 } : {}) };
    return startCommand({ file: helper, args: execHelperArgs(opts, '/bin/sh', shellArgs(command, host)), cwd, env, held });
  }
  return startCommand({
    file: '/bin/sh',
    args: shellArgs(command, host),
    cwd,
    env,
    ...(host.credentials ? { uid: host.credentials.uid, gid: host.credentials.gid } : {}),
  });
}

export const cmdAction: AlarmActionFactory = (args, host: CmdActionHost) => {
  const command = args.trim();
  if (command.length === 0) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, 'cmd: expected a shell command after "cmd:", got nothing', { key: 'alarm' });
  }
  // Only a join of the vassal's cgroup is worth starting ahead: everything else the helper does
  // takes microseconds.
  const alarm = host.alarm;
  const standby =
    alarm !== undefined && execHelperPath() !== undefined && (host.sandbox?.cgroupProcs?.length ?? 0) > 0
      ? new CommandStandby(() => spawnShell(command, host, commandEnv(host, alarm), true))
      : undefined;
  standby?.prime();
  return {
    run(firing, { signal }) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        let child: CommandProcess | undefined = firing.alarm === alarm ? standby?.take() : undefined;
        standby?.prime();
        try {
          child ??= spawnShell(command, host, commandEnv(host, firing.alarm));
        } catch (err) {
          reject(new EmperorError(ErrorCodes.ALARM_ACTION, `cmd could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
          return;
        }
        const chunks: Buffer[] = [];
        let kept = 0;
        let dropped = 0;
        const collect = (b: Buffer): void => {
          if (kept >= CMD_OUTPUT_LIMIT) {
            dropped += b.length;
            return;
          }
          const part = b.subarray(0, CMD_OUTPUT_LIMIT - kept);
          chunks.push(part);
          kept += part.length;
          dropped += b.length - part.length;
        };
        for (const out of child.output) out.on('data', collect);
        // A command that does not read its stdin is no failure.
        child.stdin.on('error', () => {});
        child.stdin.end(firing.message.endsWith('\n') ? firing.message : `${firing.message}\n`);

        const onAbort = (): void => killGroup(child.pid);
        signal.addEventListener('abort', onAbort, { once: true });

        child.ended.then(({ code, signal: sig }) => {
          signal.removeEventListener('abort', onAbort);
          const output = Buffer.concat(chunks).toString('utf8').trimEnd();
          if (output.length > 0) {
            const more = dropped > 0 ? ` [${dropped} more bytes not shown]` : '';
            host.log.info(`${ALARM_LOG_PREFIX} alarm "${firing.alarm}" cmd output: ${output}${more}`, { alarm: firing.alarm });
          }
          if (code === 0) {
            resolve();
            return;
          }
          const how = sig !== null ? `was killed by ${sig}` : `exited with code ${code ?? 'unknown'}`;
          reject(new EmperorError(ErrorCodes.ALARM_ACTION, `cmd ${how}`));
        }, (err: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(new EmperorError(ErrorCodes.ALARM_ACTION, `cmd could not start: ${err.message}`, { cause: err }));
        });
      });
    },
    close() {
      return standby?.close() ?? Promise.resolve();
    },
  };
};
