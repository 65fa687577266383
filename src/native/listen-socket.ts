/**
 * The on-demand socket addon (listen-socket.c, built at install with the exec helper): listening
 * sockets the emperor binds and watches for a pending connection without accepting it, so the
 * first client stays in the backlog for the vassal. Loaded once, on the first on-demand vassal.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

let loaded: { addon: ListenSocketAddon } | { reason: string } | undefined;

function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const rel = join('build', 'Release', 'listen-socket.node');
  // Beside this file in a source checkout; in the project's src/native when running from dist/.
  return [join(here, rel), join(here, '..', '..', '..', 'src', 'native', rel)];
}

/** The addon, or why it cannot be used. */
export function listenSocketAddon(): { addon: ListenSocketAddon } | { reason: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') {
    loaded = { reason: `on-demand sockets need Linux (this is ${process.platform})` };
    return loaded;
  }
  const file = candidates().find((f) => existsSync(f));
  if (file === undefined) {
    loaded = { reason: `the on-demand socket addon is not built (no ${candidates()[0]}); build it with \`node src/native/build.mjs\` (needs a C compiler and Node headers)` };
    return loaded;
  }
  try {
    const mod: unknown = createRequire(import.meta.url)(file);
    const names: Array<keyof ListenSocketAddon> = ['listenTcp', 'listenUnix', 'chmodUnix', 'unlinkUnix', 'watch', 'closeFd'];
    if (typeof mod !== 'object' || mod === null || names.some((n) => typeof (mod as Record<string, unknown>)[n] !== 'function')) {
      loaded = { reason: `${file} is not the on-demand socket addon (a newer build is needed: \`node src/native/build.mjs\`)` };
    } else {
      loaded = { addon: mod as ListenSocketAddon };
    }
  } catch (err) {
    loaded = { reason: `cannot load ${file}: ${err instanceof Error ? err.message : String(err)}` };
  }
  return loaded;
}
