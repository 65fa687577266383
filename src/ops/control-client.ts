/**
 * The `emperor` subcommands' side of the control socket: one connection, requests matched to
 * answers by id, and a followed log stream.
 */
import { connect, type Socket } from 'node:net';
import type { RecentLine } from '../core/vassal.js';
import { JsonLines, type ControlMessage, type ControlRequest } from './control-protocol.js';

/** Nobody answers on the socket: the emperor is not running there (or not with --control). */
export class EmperorUnreachable extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`no emperor answers on ${path} (${reason})`);
    this.name = 'EmperorUnreachable';
  }
}

/** The emperor refused the command, and said why. */
export class CommandRefused extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'CommandRefused';
  }
}

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void; onEvent?: (m: ControlMessage) => void };

export class ControlClient {
  private readonly waiters = new Map<number, Waiter>();
  /** Streams that outlive their answer (logs -f). */
  private readonly events = new Map<number, (m: ControlMessage) => void>();
  private nextId = 1;
  private lost: Error | undefined;

  private constructor(private readonly socket: Socket, readonly path: string) {
    socket.setEncoding('utf8');
    const lines = new JsonLines((line) => this.onLine(line));
    socket.on('data', (c: string) => lines.push(c));
    const fail = (err: Error): void => {
      this.lost ??= err;
      for (const w of this.waiters.values()) w.reject(this.lost);
      this.waiters.clear();
    };
    socket.on('error', (err) => fail(new EmperorUnreachable(path, `connection lost: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    socket.on('close', () => fail(new EmperorUnreachable(path, 'the emperor closed the connection')));
  }

  static connect(path: string, timeoutMs = 5000): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new EmperorUnreachable(path, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new ControlClient(socket, path));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === 'ENOENT' ? 'no such socket: is the emperor running, with this --control path?'
          : err.code === 'ECONNREFUSED' ? 'connection refused: the emperor that made it is gone'
          : err.code === 'EACCES' ? 'permission denied: the socket belongs to another user (try as that user, or root)'
          : err.code ?? err.message;
        reject(new EmperorUnreachable(path, why));
      });
    });
  }

  /** Sends one request and resolves with its result, or rejects with CommandRefused. */
  request(req: Omit<ControlRequest, 'id'>, timeoutMs = 60_000): Promise<unknown> {
    return this.send(req, undefined, timeoutMs);
  }

  /**
   * `logs NAME -f`: calls onLines with the buffered lines, then onLine with each new one; resolves
   * with the reason when the emperor ends the stream (the vassal stopped).
   */
  async follow(name: string, lines: number | undefined, onLine: (l: RecentLine) => void, onDropped: (n: number) => void): Promise<string> {
    let endResolve!: (reason: string) => void;
    const ended = new Promise<string>((r) => (endResolve = r));
    // Events that arrive with the answer wait until the buffered lines are out: order is kept.
    let early: ControlMessage[] | undefined = [];
    const dispatch = (m: ControlMessage): void => {
      if (!('event' in m)) return;
      if (m.event === 'line') onLine(m.line);
      else if (m.event === 'dropped') onDropped(m.count);
      else if (m.event === 'end') endResolve(m.reason);
    };
    const closed = new Promise<string>((_, reject) => {
      this.socket.once('close', () => reject(this.lost ?? new EmperorUnreachable(this.path, 'the emperor closed the connection')));
    });
    closed.catch(() => undefined);
    const first = (await this.send({ cmd: 'logs', name, ...(lines === undefined ? {} : { lines }), follow: true }, (m) => (early ? early.push(m) : dispatch(m)))) as { lines: RecentLine[] };
    for (const l of first.lines) onLine(l);
    const queued = early;
    early = undefined;
    for (const m of queued) dispatch(m);
    return Promise.race([ended, closed]);
  }

  close(): void {
    this.socket.destroy();
  }

  private send(req: Omit<ControlRequest, 'id'>, onEvent: ((m: ControlMessage) => void) | undefined, timeoutMs = 60_000): Promise<unknown> {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new EmperorUnreachable(this.path, `no answer to '${req.cmd}' within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiters.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
        ...(onEvent ? { onEvent } : {}),
      });
      this.socket.write(JSON.stringify({ id, ...req }) + '\n');
    });
  }

  private onLine(line: string): void {
    let m: ControlMessage;
    try {
      m = JSON.parse(line) as ControlMessage;
    } catch {
      return;
    }
    if (typeof m.id !== 'number') return;
    const w = this.waiters.get(m.id);
    if (!w) {
      this.events.get(m.id)?.(m);
      return;
    }
    if ('event' in m) {
      w.onEvent?.(m);
      return;
    }
    this.waiters.delete(m.id);
    if (w.onEvent) this.events.set(m.id, w.onEvent);
    if (m.ok) w.resolve(m.result);
    else w.reject(new CommandRefused(m.error.code, m.error.message));
  }
}
