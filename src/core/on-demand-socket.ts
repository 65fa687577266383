/**
 * The socket of an on-demand vassal: bound by the emperor, held across the vassal's runs, handed
 * to its workers, and watched for the next client while no worker runs. The emperor never
 * accepts: a client waits in the backlog until a worker does, so none is lost or refused while
 * the vassal starts, stops after idling, or starts again.
 */
import { listenSocketAddon, type ListenSocketAddon, type SocketOwner, type SocketWatch } from '../native/listen-socket.js';
import { describeAddress, type ListenAddress } from './listen-address.js';

/** Clients that may wait while the vassal starts (the kernel caps it at net.core.somaxconn). */
export const ON_DEMAND_BACKLOG = 1024;

export interface OnDemandSocketOptions {
  /** Permission bits of a unix socket file. */
  mode: number;
  /** Tyrant mode: the file is created, chmod'ed and removed with this user's rights. */
  owner?: SocketOwner;
  /** A root emperor running the vassal as another user: the file is chown'ed to it. */
  give?: { uid: number; gid: number };
  backlog?: number;
}

/** Why on-demand sockets cannot be used here, or undefined when they can. */
export function onDemandUnavailable(): string | undefined {
  const a = listenSocketAddon();
  return 'reason' in a ? a.reason : undefined;
}

function addon(): ListenSocketAddon {
  const a = listenSocketAddon();
  if ('reason' in a) throw new Error(a.reason);
  return a.addon;
}

export class OnDemandSocket {
  /** Armed: the emperor waits for a client (no worker runs). */
  private armed = false;
  private onConnection: (() => void) | undefined;
  private onError: ((err: Error) => void) | undefined;
  private readonly watch: SocketWatch;
  private closed: Promise<void> | undefined;

  private constructor(
    readonly address: ListenAddress,
    /** The listening descriptor, for the workers' stdio. */
    readonly fd: number,
    private mode: number,
    private readonly owner: SocketOwner | undefined,
  ) {
    this.watch = addon().watch(
      fd,
      () => {
        this.armed = false;
        this.onConnection?.();
      },
      (err) => {
        this.armed = false;
        this.onError?.(err);
      },
    );
  }

  /**
   * Binds and listens. Throws the system error (EADDRINUSE, EACCES, EEXIST for a path that is
   * not a socket...) with its code, or a plain Error when the addon is unavailable.
   */
  static open(address: ListenAddress, opts: OnDemandSocketOptions): OnDemandSocket {
    const a = addon();
    const backlog = opts.backlog ?? ON_DEMAND_BACKLOG;
    const fd =
      address.kind === 'tcp'
        ? a.listenTcp(address.host, address.port, backlog)
        : a.listenUnix(address.path, backlog, opts.mode, opts.owner ?? null, opts.give ?? null);
    try {
      return new OnDemandSocket(address, fd, opts.mode, opts.owner);
    } catch (err) {
      a.closeFd(fd);
      if (address.kind === 'unix') a.unlinkUnix(address.path, opts.owner ?? null);
      throw err;
    }
  }

  get isArmed(): boolean {
    return this.armed;
  }

  describe(): string {
    return describeAddress(this.address);
  }

  /** Calls onConnection once, when a client waits (at once if one already does). */
  arm(onConnection: () => void, onError: (err: Error) => void): void {
    if (this.closed) return;
    this.onConnection = onConnection;
    this.onError = onError;
    this.armed = true;
    this.watch.arm();
  }

  disarm(): void {
    this.armed = false;
    if (!this.closed) this.watch.disarm();
  }

  /** New permission bits for a unix socket file (a reload); the socket itself stays. */
  setMode(mode: number): void {
    if (this.address.kind !== 'unix' || mode === this.mode) return;
    addon().chmodUnix(this.address.path, mode, this.owner ?? null);
    this.mode = mode;
  }

  /** Stops watching, closes the emperor's descriptor and removes the socket file. Idempotent. */
  close(): Promise<void> {
    this.closeNow();
    return this.closed!;
  }

  /** close(), all of it done before returning: for an emperor going down hard. */
  closeNow(): void {
    if (this.closed) return;
    this.closed = Promise.resolve();
    this.armed = false;
    const a = addon();
    // The watch goes first: it takes the fd out of epoll while the fd is still valid.
    this.watch.close();
    a.closeFd(this.fd);
    if (this.address.kind === 'unix') {
      try {
        a.unlinkUnix(this.address.path, this.owner ?? null);
      } catch {
        // Someone else removed or replaced it: nothing of ours is left to remove.
      }
    }
  }
}
