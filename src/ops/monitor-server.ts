/**
 * A vassal's monitor server, speaking the line protocol of zc.monitor as ftw.monitor extends it:
 * one command per line (`help`, `health_check`, `perf_metrics`, `interactive`, `quit`), the answer,
 * then the server closes the connection, unless `interactive` asked it to stay (an empty line
 * then repeats the last command). HAProxy's `tcp-check send health_check\r\n` /
 * `tcp-check expect string OK` and `echo health_check | nc HOST PORT` both work against it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import { closeServer } from './listen.js';
import type { MonitorAddress } from './monitor-address.js';

export interface MonitorHandlers {
  /** One line: `OK`, `Warmup in progress`, or why not. */
  health(): string;
  /** The perf_metrics document. */
  perfMetrics(): Promise<unknown>;
}

const MAX_LINE = 4096;
const IDLE_MS = 30_000;
const INTERACTIVE_IDLE_MS = 600_000;

type Outcome = 'stay' | 'interactive' | 'quit';
interface Command {
  doc: string;
  run(h: MonitorHandlers, args: readonly string[]): Promise<[string, Outcome?]>;
}

const COMMANDS: Record<string, Command> = {
  health_check: {
    doc: 'Check whether the vassal is alive, ready and warmed up.\n\nAnswers OK once every worker is ready and the warmup request (if any) succeeded,\n"Warmup in progress" while it runs, and the reason otherwise.',
    run: async (h) => [h.health() + '\n'],
  },
  help: {
    doc: 'Get help about server commands\n\nBy default, a list of commands and summaries is printed.  Provide\na command name to get detailed documentation for a command.',
    run: async (_h, args) => [help(args[0])],
  },
  interactive: {
    doc: 'Turn on monitor\'s interactive mode\n\nNormally, the monitor releases the connection after a single command.\nBy entering the interactive mode, the monitor will not end the connection\nuntil you enter the "quit" command.\n\nIn interactive mode, an empty line repeats the last command.',
    run: async () => ['Interactive mode on.  Use "quit" To exit.\n', 'interactive'],
  },
  perf_metrics: {
    doc: 'Get performance related metrics\n\nA JSON document: instance (name, state, uptime in seconds, pids, workers),\nmemory (rss, uss, pss summed over the vassal\'s processes, cgroup where there is one),\nrestarts, reloads and alarms.',
    run: async (h) => [JSON.stringify(await h.perfMetrics()) + '\n'],
  },
  quit: {
    doc: 'Quit the monitor\n\nThis is only really useful in interactive mode (see the "interactive"\ncommand).',
    run: async () => ['Goodbye.\n', 'quit'],
  },
};

function help(name: string | undefined): string {
  if (name === undefined) {
    const lines = Object.keys(COMMANDS).sort().map((n) => `${n} -- ${COMMANDS[n]!.doc.split('\n', 1)[0]}`);
    return `Supported commands:\n  ${lines.join('\n  ')}\n`;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return cmd ? `Help for ${name}:\n\n${cmd.doc}\n` : `Invalid command '${name}'\nTry "help".\n`;
}

export class MonitorServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly address: MonitorAddress,
    private readonly handlers: MonitorHandlers,
    private readonly log: Logger,
  ) {
    this.server = createServer({ allowHalfOpen: true }, (s) => this.serve(s));
    this.server.maxConnections = 64;
  }

  /** Listens; rejects when the address cannot be bound (EADDRINUSE, EACCES). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.address.host, port: this.address.port, exclusive: true }, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.log.error(`monitor server: ${err.message}`, { event: 'monitor-server-error' }));
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : this.address.port;
  }

  close(): Promise<void> {
    this.closing ??= closeServer(this.server, this.sockets);
    return this.closing;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('latin1');
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let buf = '';
    let interactive = false;
    let last: string[] | undefined;
    let chain = Promise.resolve();
    const enqueue = (fn: () => Promise<void> | void): void => {
      chain = chain.then(fn).catch(() => void socket.destroy());
    };

    const handle = async (line: string): Promise<void> => {
      if (socket.destroyed || socket.writableEnded) return;
      let args = line.trim().split(/\s+/).filter((a) => a !== '');
      if (args.length === 0) {
        if (!interactive || !last) return;
        args = last;
      }
      last = args;
      const [name, ...rest] = args as [string, ...string[]];
      const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
      let out: string;
      let outcome: Outcome | undefined;
      if (!cmd) {
        out = `Invalid command '${name}'\nTry "help".\n`;
      } else {
        try {
          [out, outcome] = await cmd.run(this.handlers, rest);
        } catch (err) {
          out = `${(err as Error).name ?? 'Error'}: ${(err as Error).message ?? String(err)}\n`;
        }
      }
      if (socket.destroyed || socket.writableEnded) return;
      if (outcome === 'interactive') {
        interactive = true;
        socket.setTimeout(INTERACTIVE_IDLE_MS);
      }
      if (outcome === 'quit' || !interactive) socket.end(out);
      else socket.write(out);
    };

    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        enqueue(() => handle(line));
      }
      if (buf.length > MAX_LINE) {
        buf = '';
        enqueue(() => void socket.end('Line too long\n'));
      }
    });
    socket.on('end', () => {
      const rest = buf;
      buf = '';
      // A last command without a newline (printf health_check | nc) still gets its answer.
      enqueue(async () => {
        if (rest.trim() !== '') await handle(rest);
        if (!socket.writableEnded) socket.end();
      });
    });
  }
}
