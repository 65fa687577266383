/**
 * Tyrant mode: a root emperor runs every vassal as the owner of its config (or the uid/gid its
 * row or message carries), and refuses whatever would let a vassal act as anyone else.
 */
import type { VassalConfig } from '../config/types.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { VassalSpec } from '../monitors/types.js';
import type { Credentials } from './credentials.js';
import { assertOwnerMayRead } from './owner-read.js';
import { groupsOf, userById, type PasswdEntry } from './passwd.js';

export interface TyrantSettings {
  /** `--tyrant-initgroups`: the user's supplementary groups from /etc/group instead of none. */
  initGroups: boolean;
}

/** `--tyrant` needs root: only root can hand each vassal its own credentials. */
export function assertTyrantAllowed(isRoot: boolean): void {
  if (!isRoot) {
    throw new EmperorError(ErrorCodes.USAGE, '--tyrant: tyrant mode runs every vassal as its config\'s owner and needs a root emperor (this one runs as uid ' + String(process.getuid?.() ?? '?') + ')', { key: 'tyrant' });
  }
}

/** An owner change of a running vassal's config stops it instead of reloading it. */
export function ownerChanged(prev: Pick<VassalSpec, 'uid' | 'gid'>, next: Pick<VassalSpec, 'uid' | 'gid'>): boolean {
  return prev.uid !== next.uid || prev.gid !== next.gid;
}

export interface TyrantIdentity {
  credentials: Credentials;
  /** The user's passwd entry, when it has one. */
  user: PasswdEntry | undefined;
}

/**
 * The credentials of a vassal in tyrant mode. Refuses (PERMISSION, naming the key or the source)
 * a config that sets uid or gid itself, a source that gave no owner, uid or gid 0, and a config
 * file its owner could not read itself.
 */
export async function tyrantIdentity(
  spec: VassalSpec,
  config: Pick<VassalConfig, 'uid' | 'gid'>,
  settings: TyrantSettings,
  where: { origin: string; lineOf: (key: string) => number | undefined },
): Promise<TyrantIdentity> {
  for (const key of ['uid', 'gid'] as const) {
    if (config[key] !== undefined) {
      throw new EmperorError(ErrorCodes.PERMISSION, `${key}: a vassal cannot choose its ${key === 'uid' ? 'user' : 'group'} in tyrant mode (it runs as its config's owner${spec.uid !== undefined ? `, uid ${spec.uid} gid ${String(spec.gid)}` : ''})`, { file: where.origin, line: where.lineOf(key), key });
    }
  }
  if (spec.uid === undefined || spec.gid === undefined) {
    throw new EmperorError(ErrorCodes.PERMISSION, `tyrant mode: ${spec.source} gave no owner (uid and gid) for this vassal, so it has no user to run as`, { file: where.origin });
  }
  for (const [key, id] of [['uid', spec.uid], ['gid', spec.gid]] as const) {
    if (!Number.isInteger(id) || id < 0 || id > 4294967294) {
      throw new EmperorError(ErrorCodes.PERMISSION, `tyrant mode: ${key} ${String(id)} from ${spec.source} is not a valid id`, { file: where.origin, key });
    }
  }
  if (spec.uid === 0 || spec.gid === 0) {
    const which = spec.uid === 0 ? `uid 0 (root)` : `gid 0 (root's group)`;
    throw new EmperorError(ErrorCodes.PERMISSION, `tyrant mode: refusing to run a vassal as ${which}: its config${spec.config.path ? ` ${spec.config.path}` : ''} is owned by uid ${spec.uid} gid ${spec.gid}; give it to the user it should run as`, { file: where.origin });
  }
  const user = await userById(spec.uid);
  let credentials: Credentials;
  if (!settings.initGroups) {
    credentials = { uid: spec.uid, gid: spec.gid, groups: [spec.gid] };
  } else {
    if (user === undefined) {
      throw new EmperorError(ErrorCodes.PERMISSION, `--tyrant-initgroups: uid ${spec.uid} has no entry in /etc/passwd, so its groups are unknown`, { file: where.origin, key: 'tyrant-initgroups' });
    }
    credentials = { uid: spec.uid, gid: spec.gid, initGroups: user.name, groups: await groupsOf(user.name, spec.gid) };
  }
  // The root emperor read the file; its owner must have been able to (a link's owner, with nofollow, may not).
  if (spec.config.path !== undefined) await assertOwnerMayRead(spec.config.path, spec.config.text, credentials, where.origin);
  return { credentials, user };
}

/** Variables of the emperor's own environment a vassal of another user still gets. */
const PASSED = ['PATH', 'LANG', 'LANGUAGE', 'TZ', 'TERM'];

/**
 * A tyrant vassal's base environment: none of the root emperor's variables (they may hold its
 * database passwords) but the locale, time zone and PATH, and the user's own HOME, USER, LOGNAME,
 * SHELL. The config's `env` keys come on top.
 */
export function tyrantBaseEnv(emperorEnv: Readonly<Record<string, string | undefined>>, user: PasswdEntry | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of Object.keys(emperorEnv)) {
    const v = emperorEnv[k];
    if (v !== undefined && (PASSED.includes(k) || k.startsWith('LC_'))) env[k] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  if (user) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell });
  return env;
}
