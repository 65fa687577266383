/**
 * What a plan asks of on-demand activation: which socket (the source's socket field — pg/mongodb
 * column 6, zmq part 6 — or else the `on-demand` key), bound how, as whom. Builds the socket for
 * a plan, or keeps the one the vassal already holds when the address is the same, so a reload
 * never drops the clients waiting in its backlog.
 */
import { basename, dirname, extname } from 'node:path';
import { Expected } from '../config/values.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import { describeCredentials } from '../isolation/credentials.js';
import { mayAccess, W, X } from '../isolation/user-access.js';
import { execHelperPath } from '../native/exec-helper.js';
import { describeAddress, resolveListenAddress, sameAddress, type ListenAddress } from './listen-address.js';
import { OnDemandSocket, onDemandUnavailable } from './on-demand-socket.js';
import type { VassalPlan } from './plan.js';

/** The socket a plan asks for, and the field it came from (for messages). */
export function onDemandOf(plan: VassalPlan): { value: string; key: 'socket' | 'on-demand' } | undefined {
  if (plan.spec.socket !== undefined && plan.spec.socket !== '') return { value: plan.spec.socket, key: 'socket' };
  if (plan.config.onDemand !== undefined) return { value: plan.config.onDemand, key: 'on-demand' };
  return undefined;
}

/** LISTEN_FDNAMES: the vassal's name without directory and extension, as systemd names a socket unit. */
export function listenFdName(vassal: string): string {
  const stem = basename(vassal, extname(vassal)).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 255);
  return stem === '' ? 'on-demand' : stem;
}

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use (another process listens there)',
  EEXIST: 'the path exists and is not a socket',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EADDRNOTAVAIL: 'no such address on this host',
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a component of the path is not a directory',
};

/**
 * The socket for `plan`: `current` when it is bound to the same address (its mode updated), a
 * new one otherwise, undefined when the plan is not on demand. Throws a located EmperorError.
 */
export async function socketForPlan(plan: VassalPlan, current: OnDemandSocket | undefined): Promise<OnDemandSocket | undefined> {
  const want = onDemandOf(plan);
  if (!want) return undefined;
  const origin = plan.spec.config.path ?? `${plan.spec.source}:${plan.spec.name}`;
  const line = want.key === 'on-demand' ? plan.config.entries.find((e) => e.key === 'on-demand')?.line : undefined;
  const fail = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, cause?: unknown): EmperorError =>
    new EmperorError(code, `${want.key}: ${message}`, { file: origin, line, key: want.key, cause });

  const unavailable = onDemandUnavailable() ?? (execHelperPath() ? undefined : 'the exec helper is not built (`node src/native/build.mjs`); only it can set LISTEN_PID for the program');
  if (unavailable) throw fail(ErrorCodes.NATIVE_UNAVAILABLE, `on-demand activation is unavailable: ${unavailable}`);

  let address: ListenAddress;
  try {
    address = await resolveListenAddress(want.value, plan.worker.cwd ?? process.cwd());
  } catch (err) {
    const why = err instanceof Expected ? `expected ${err.expected}${err.detail ? ` (${err.detail})` : ''}, got '${want.value}'` : String(err);
    throw fail(ErrorCodes.CONFIG_INVALID, why, err);
  }
  const mode = plan.config.onDemandMode;
  if (current && sameAddress(current.address, address)) {
    try {
      current.setMode(mode);
    } catch (err) {
      throw fail(ErrorCodes.CONFIG_INVALID, `cannot change the mode of ${describeAddress(address)}: ${reason(err)}`, err);
    }
    return current;
  }

  const who = plan.credentials;
  if (who && address.kind === 'unix' && !address.path.startsWith('@')) {
    // The kernel refuses it anyway (the file is created with the user's rights); this says why.
    const dir = dirname(address.path);
    const a = await mayAccess(dir, who, W | X);
    if (!a.ok) throw fail(ErrorCodes.PERMISSION, `${describeCredentials(who)} may not create ${address.path} (${a.reason})`);
  }
  const give = !who && plan.worker.uid !== undefined && plan.worker.gid !== undefined ? { uid: plan.worker.uid, gid: plan.worker.gid } : undefined;
  try {
    return OnDemandSocket.open(address, { mode, ...(who ? { owner: who } : {}), ...(give ? { give } : {}) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const denied = who !== undefined && (code === 'EACCES' || code === 'EPERM');
    throw fail(denied ? ErrorCodes.PERMISSION : ErrorCodes.CONFIG_INVALID, `cannot listen on ${describeAddress(address)}${denied ? ` as ${describeCredentials(who)}` : ''}: ${reason(err)}`, err);
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known = code === undefined ? undefined : REASONS[code];
  if (known) return `${known} (${code})`;
  return err instanceof Error ? err.message : String(err);
}
