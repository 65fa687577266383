/**
 * `--stats ADDR`: every connection receives one JSON document and is closed, as uWSGI's emperor
 * stats server does (but always valid JSON). With `--stats-http` the same address speaks HTTP:
 * GET / or /stats for the JSON, GET /metrics for Prometheus.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import { closeServer, describeAddress, listenOn, type ListenAddress } from './listen.js';
import type { FleetMetrics } from './prometheus.js';

export interface StatsServerOptions {
  address: ListenAddress;
  http: boolean;
  /** Writes the stats document as JSON text, piece by piece as it is built. */
  writeStats: (out: (piece: string) => void) => Promise<void>;
  metrics: FleetMetrics;
  log: Logger;
}

export class StatsServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: StatsServerOptions) {
    this.server = opts.http
      ? createHttpServer((req, res) => void this.http(req, res).catch(() => res.destroy()))
      : createNetServer((s) => void this.raw(s).catch(() => s.destroy()));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<void> {
    await listenOn(this.server, this.opts.address, '--stats', 0o660);
    this.server.on('error', (err) => this.opts.log.error(`stats server: ${err.message}`, { event: 'stats-error' }));
    this.opts.log.info(`stats ${this.opts.http ? 'over HTTP ' : ''}on ${this.where()}`, { event: 'stats-listening', address: this.where() });
  }

  /** The bound address (the real port when 0 was asked). */
  where(): string {
    const a = this.server.address();
    if (this.opts.address.kind === 'tcp' && typeof a === 'object' && a) return describeAddress({ ...this.opts.address, port: a.port });
    return describeAddress(this.opts.address);
  }

  close(): Promise<void> {
    this.closing ??= closeServer(this.server, this.sockets);
    return this.closing;
  }

  private async raw(socket: Socket): Promise<void> {
    socket.on('error', () => socket.destroy());
    let started = false;
    // Corked: the pieces leave in one write at the end, not one system call (and wakeup) each.
    socket.cork();
    try {
      await this.opts.writeStats((piece) => {
        started = true;
        if (!socket.destroyed) socket.write(piece);
      });
      socket.end('\n');
    } catch (err) {
      this.opts.log.error(`stats: ${(err as Error).message}`, { event: 'stats-error' });
      // Half a document would not be JSON: the client sees the connection cut instead.
      if (started) socket.destroy();
      else socket.end(JSON.stringify({ error: { code: 'EMP_ERR_CONTROL', message: (err as Error).message } }) + '\n');
    }
  }

  private async http(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://stats').pathname;
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n', { allow: 'GET, HEAD' });
    try {
      if (path === '/' || path === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.cork();
        if (req.method !== 'HEAD') await this.opts.writeStats((piece) => res.write(piece));
        res.end(req.method === 'HEAD' ? undefined : '\n');
        return;
      }
      if (path === '/metrics') return send(200, this.opts.metrics.contentType(), await this.opts.metrics.metrics());
      send(404, 'text/plain; charset=utf-8', `not found: ${path} (try /, /stats or /metrics)\n`);
    } catch (err) {
      this.opts.log.error(`stats: ${(err as Error).message}`, { event: 'stats-error' });
      if (res.headersSent) return void res.destroy();
      send(500, 'text/plain; charset=utf-8', `error: ${(err as Error).message}\n`);
    }
  }
}
