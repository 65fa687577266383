/**
 * `--control PATH`: a unix socket (mode 0600: only the emperor's user, and root, may command it)
 * answering JSON-lines requests. Every request gets an answer, success or a coded error; uWSGI's
 * command socket answers nothing.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describeError, isEmperorError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Commands } from './commands.js';
import { JsonLines, MAX_REQUEST_BYTES, type ControlMessage, type RequestId } from './control-protocol.js';
import { prepareControlDir } from './control-path.js';
import { RawJson } from './raw-json.js';
import { closeServer, listenOn } from './listen.js';

/** A follower that reads slower than this many buffered bytes loses lines (counted, said). */
const FOLLOW_BUFFER_BYTES = 1024 * 1024;
const MUTATING = new Set(['touch', 'destroy', 'reload-all', 'unthrottle']);

export class ControlServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Requests still being answered, per connection. */
  private readonly pending = new WeakMap<Socket, number>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly commands: Commands,
    private readonly log: Logger,
  ) {
    // Half-open: a client that sends its requests and shuts its side down still gets the answers.
    this.server = createServer({ allowHalfOpen: true }, (s) => this.serve(s));
  }

  async start(option = '--control'): Promise<void> {
    await prepareControlDir(this.path, option);
    await listenOn(this.server, { kind: 'unix', path: this.path }, option, 0o600);
    this.server.on('error', (err) => this.log.error(`control socket: ${err.message}`, { event: 'control-error' }));
    this.log.info(`control socket on ${this.path}`, { event: 'control-listening', path: this.path });
  }

  close(): Promise<void> {
    this.closing ??= closeServer(this.server, this.sockets);
    return this.closing;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    const follows = new Set<() => void>();
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const stop of follows) stop();
      follows.clear();
    });
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    const send = (m: ControlMessage): boolean => {
      if (socket.destroyed || socket.writableEnded) return false;
      return socket.write(JSON.stringify(m) + '\n');
    };
    const lines = new JsonLines(
      (line) => void this.handle(line, send, socket, follows).catch(() => socket.destroy()),
      MAX_REQUEST_BYTES,
      () => {
        send({ id: null, ok: false, error: { code: 'EMP_ERR_CONTROL', message: `request longer than ${MAX_REQUEST_BYTES} bytes` } });
        socket.end();
      },
    );
    socket.on('data', (chunk: string) => lines.push(chunk));
    socket.on('end', () => {
      // A client that half-closes after its requests still gets its answers; followers keep
      // reading until they close themselves.
      if (follows.size === 0) void Promise.resolve().then(() => this.endWhenIdle(socket, follows));
    });
  }

  private endWhenIdle(socket: Socket, follows: Set<() => void>): void {
    if ((this.pending.get(socket) ?? 0) === 0 && follows.size === 0 && socket.readableEnded && !socket.writableEnded) socket.end();
  }

  private async handle(line: string, send: (m: ControlMessage) => boolean, socket: Socket, follows: Set<() => void>): Promise<void> {
    let id: RequestId = null;
    this.pending.set(socket, (this.pending.get(socket) ?? 0) + 1);
    try {
      let req: unknown;
      try {
        req = JSON.parse(line);
      } catch (err) {
        throw new RequestError(`request is not JSON: ${(err as Error).message}`);
      }
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new RequestError('request must be a JSON object like {"id":1,"cmd":"status"}');
      const r = req as Record<string, unknown>;
      if (typeof r.id === 'string' || typeof r.id === 'number') id = r.id;
      if (typeof r.cmd !== 'string' || r.cmd === '') throw new RequestError('request needs "cmd": a command name (try {"cmd":"help"})');
      if (MUTATING.has(r.cmd)) this.log.info(`control: ${r.cmd}${typeof r.name === 'string' ? ` ${r.name}` : ''}`, { event: 'control', cmd: r.cmd, ...(typeof r.name === 'string' ? { name: r.name } : {}) });
      const result = await this.commands.run({ cmd: r.cmd, name: r.name, lines: r.lines, follow: r.follow });
      if (result instanceof RawJson) sendRaw(socket, [`{"id":${JSON.stringify(id)},"ok":true,"result":`, ...result.pieces, '}\n']);
      else send({ id, ok: true, result });
      if (r.cmd === 'logs' && r.follow === true) this.follow(id, r.name as string, send, socket, follows);
    } catch (err) {
      const code = isEmperorError(err) ? err.code : 'EMP_ERR_CONTROL';
      if (!isEmperorError(err) && !(err instanceof RequestError)) this.log.error(`control: ${describeError(err)}`, { event: 'control-error' });
      send({ id, ok: false, error: { code, message: isEmperorError(err) ? err.message : describeError(err) } });
    } finally {
      this.pending.set(socket, (this.pending.get(socket) ?? 1) - 1);
      if (socket.readableEnded) this.endWhenIdle(socket, follows);
    }
  }

  private follow(id: RequestId, name: string, send: (m: ControlMessage) => boolean, socket: Socket, follows: Set<() => void>): void {
    let dropped = 0;
    const stop = this.commands.follow(
      name,
      (line) => {
        if (socket.writableLength > FOLLOW_BUFFER_BYTES) {
          dropped++;
          return;
        }
        if (dropped > 0) {
          send({ id, event: 'dropped', count: dropped });
          dropped = 0;
        }
        send({ id, event: 'line', line });
      },
      (reason) => {
        follows.delete(stop);
        send({ id, event: 'end', reason });
        this.endWhenIdle(socket, follows);
      },
    );
    follows.add(stop);
  }
}

/** One answer line written in pieces, all at once: no other answer can come between them. */
function sendRaw(socket: Socket, pieces: readonly string[]): void {
  if (socket.destroyed || socket.writableEnded) return;
  socket.cork();
  for (const p of pieces) socket.write(p);
  socket.uncork();
}

/** A malformed request: refused like a command, without being logged as a fault. */
class RequestError extends Error {}
