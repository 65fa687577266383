// An HTTP server: answers every request with a greeting, which pool member answered and the uptime.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const started = Date.now();
const server = createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from ${process.env.EMPEROR_VASSAL ?? 'web'} (worker ${process.env.EMPEROR_WORKER_ID ?? 1}, up ${Math.round((Date.now() - started) / 1000)} s)\n`);
  console.log(`${req.method} ${req.url}`);
});
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
