/**
 * Asks the emperor's stats server (`--stats HOST:PORT`: one JSON document per connection) and
 * times the answer; a sampler does so every `everyMs` while a benchmark runs.
 */
import { connect, createServer } from 'node:net';
import { now, sleep } from './clock.js';

export interface StatsAnswer {
  /** Connect until the last byte: what the emperor costs (the client's own parse is not in it). */
  ms: number;
  ok: boolean;
  bytes: number;
  error?: string;
}

export function askStats(port: number, timeoutMs = 5000): Promise<StatsAnswer> {
  const t0 = now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean, error?: string): void => {
      const ms = now() - t0;
      clearTimeout(timer);
      sock.destroy();
      const body = Buffer.concat(chunks);
      let valid = ok;
      if (ok) {
        try {
          JSON.parse(body.toString('utf8'));
        } catch {
          valid = false;
          error = 'not valid JSON';
        }
      }
      resolve({ ms, ok: valid, bytes: body.length, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => done(false, `no answer within ${timeoutMs} ms`), timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.once('end', () => done(true));
    sock.once('error', (err) => done(false, err.message));
  });
}

export class StatsSampler {
  readonly answers: StatsAnswer[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly port: number, private readonly everyMs = 100) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        this.answers.push(await askStats(this.port));
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<StatsAnswer[]> {
    this.stopped = true;
    await this.loop;
    return this.answers;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
