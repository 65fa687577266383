/**
 * The on-demand socket addon (listen-socket.c, built at install with the exec helper): listening
 * sockets the emperor binds and watches for a pending connection without accepting it, so the
 * first client stays in the backlog for the vassal. Loaded once, on the first on-demand vassal.
 */
import { loadAddon, type AddonResult } from './addon.js';

/** Whose file-system rights create, chmod and remove a unix socket file (tyrant mode). */
export interface SocketOwner {
  uid: number;
  gid: number;
  groups: readonly number[];
}

export interface SocketWatch {
  /** Watches for one pending connection; calls onReadable once, then stops. */
  arm(): void;
  disarm(): void;
  /** Stops for good (the fd stays open: closeFd it after). Idempotent. */
  close(): void;
}

export interface ListenSocketAddon {
  /** A listening TCP socket on a numeric address; SO_REUSEADDR; close-on-exec, blocking. */
  listenTcp(host: string, port: number, backlog: number): number;
  /**
   * A listening unix socket (`@name`: abstract). A left-over socket file nobody listens on is
   * replaced; a live one fails with EADDRINUSE, anything else with EEXIST. With `owner`, created
   * and chmod'ed with that user's rights; with `give`, chown'ed to it (no symlink followed).
   */
  listenUnix(path: string, backlog: number, mode: number, owner: SocketOwner | null, give: { uid: number; gid: number } | null): number;
  /** chmod of the socket file at path (a socket only), with `owner`'s rights when given. */
  chmodUnix(path: string, mode: number, owner: SocketOwner | null): void;
  /** Removes the socket file at path, if it still is a socket; with `owner`'s rights when given. */
  unlinkUnix(path: string, owner: SocketOwner | null): void;
  watch(fd: number, onReadable: () => void, onError: (err: Error) => void): SocketWatch;
  closeFd(fd: number): void;
}

let loaded: AddonResult<ListenSocketAddon> | undefined;

/** The addon, or why it cannot be used. */
export function listenSocketAddon(): AddonResult<ListenSocketAddon> {
  loaded ??= loadAddon<ListenSocketAddon>('listen-socket', 'the on-demand socket addon', ['listenTcp', 'listenUnix', 'chmodUnix', 'unlinkUnix', 'watch', 'closeFd']);
  return loaded;
}
