/**
 * A TCP relay that can go silent: while frozen it accepts and keeps connections but passes no
 * bytes either way, like a server that hangs or a link that blackholes.
 */
import { createServer, connect, type Socket } from 'node:net';

export interface FreezableProxy {
  port: number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function freezableProxy(host: string, port: number): Promise<FreezableProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(port, host);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { sockets.delete(s); down.destroy(); up.destroy(); });
    }
    down.on('data', (d) => { if (!frozen) up.write(d); });
    up.on('data', (d) => { if (!frozen) down.write(d); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr !== null ? addr.port : 0,
    freeze: () => { frozen = true; },
    thaw: () => { frozen = false; },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
