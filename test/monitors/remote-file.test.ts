import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, lchown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { isEmperorError } from '../../src/errors.js';
import { decodeConfigText, fetchConfig, readConfigFile } from '../../src/monitors/remote-file.js';
import { freePort, tempDir } from '../helpers/wait.js';

async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const opts = { maxBytes: 1024, timeoutMs: 2_000 };

test('fetchConfig: 200 is the config, following redirects; any other status withdraws it', async (t) => {
  const base = await serve(t, (req, res) => {
    if (req.url === '/a.ini') return res.writeHead(200).end('[vassal]\ncommand = a\n');
    if (req.url === '/old.ini') return res.writeHead(301, { location: '/a.ini' }).end();
    if (req.url === '/down.ini') return res.writeHead(503).end('maintenance');
    res.writeHead(404).end();
  });
  assert.deepEqual(await fetchConfig(`${base}/a.ini`, opts), { found: true, text: '[vassal]\ncommand = a\n' });
  assert.deepEqual(await fetchConfig(`${base}/old.ini`, opts), { found: true, text: '[vassal]\ncommand = a\n' });
  assert.deepEqual(await fetchConfig(`${base}/gone.ini`, opts), { found: false, status: 404 });
  assert.deepEqual(await fetchConfig(`${base}/down.ini`, opts), { found: false, status: 503 });
});

test('fetchConfig: too large (declared or streamed), not UTF-8, too slow or unreachable are errors', async (t) => {
  const base = await serve(t, (req, res) => {
    if (req.url === '/declared.ini') return res.writeHead(200, { 'content-length': '2048' }).end('x'.repeat(2048));
    if (req.url === '/streamed.ini') {
      res.writeHead(200); // chunked: no length announced
      for (let i = 0; i < 4; i++) res.write('y'.repeat(512));
      return res.end();
    }
    if (req.url === '/latin1.ini') return res.writeHead(200).end(Buffer.from([0x5b, 0xe9, 0x5d]));
    if (req.url === '/stall.ini') return res.writeHead(200).write('[vassal]\n'); // body never ends
  });
  const refused = `http://127.0.0.1:${await freePort()}/a.ini`;
  const cases: Array<[string, RegExp]> = [
    [`${base}/declared.ini`, /2048 bytes, above the 1024-byte limit/],
    [`${base}/streamed.ini`, /above the 1024-byte limit/],
    [`${base}/latin1.ini`, /not valid UTF-8/],
    [`${base}/silent.ini`, /no answer within 300 ms/],
    [`${base}/stall.ini`, /body not received within 300 ms/],
    [refused, /request failed: .*ECONNREFUSED/],
  ];
  for (const [url, message] of cases) {
    await assert.rejects(fetchConfig(url, { maxBytes: 1024, timeoutMs: 300 }), (err) => isEmperorError(err) && err.file === url && message.test(err.message), url);
  }
});

test('readConfigFile: a regular file (or a link to one); gone is not found; anything else is an error', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.after(cleanup);
  const file = join(dir, 'a.ini');
  await writeFile(file, '[vassal]\n');
  await chown(file, 1234, 5678);
  await symlink(file, join(dir, 'link.ini'));
  await lchown(join(dir, 'link.ini'), 4321, 8765);
  await mkdir(join(dir, 'dir.ini'));
  await promisify(execFile)('mkfifo', [join(dir, 'fifo.ini')]);
  await writeFile(join(dir, 'big.ini'), 'z'.repeat(2000));
  await writeFile(join(dir, 'latin1.ini'), Buffer.from([0x5b, 0xe9, 0x5d]));

  assert.deepEqual(await readConfigFile(file, { maxBytes: 1024 }), { found: true, text: '[vassal]\n', uid: 1234, gid: 5678 });
  assert.deepEqual(await readConfigFile(join(dir, 'link.ini'), { maxBytes: 1024 }), { found: true, text: '[vassal]\n', uid: 1234, gid: 5678 });
  assert.deepEqual(await readConfigFile(join(dir, 'link.ini'), { maxBytes: 1024, ownerOfLink: true }), { found: true, text: '[vassal]\n', uid: 4321, gid: 8765 });
  assert.deepEqual(await readConfigFile(join(dir, 'missing.ini'), { maxBytes: 1024 }), { found: false });
  assert.deepEqual(await readConfigFile(join(file, 'below.ini'), { maxBytes: 1024 }), { found: false });
  const cases: Array<[string, RegExp]> = [
    ['dir.ini', /is a directory/],
    ['fifo.ini', /is not a regular file/],
    ['big.ini', /2000 bytes, above the 1024-byte limit/],
    ['latin1.ini', /not valid UTF-8/],
  ];
  for (const [name, message] of cases) {
    await assert.rejects(readConfigFile(join(dir, name), { maxBytes: 1024 }), (err) => isEmperorError(err) && err.file === join(dir, name) && message.test(err.message), name);
  }
});

test('decodeConfigText: strict UTF-8 within the cap; a BOM is dropped', () => {
  assert.equal(decodeConfigText(Buffer.from('\ufeff[vassal]\n'), 100, 'x'), '[vassal]\n');
  assert.throws(() => decodeConfigText(Buffer.from([0xc3, 0x28]), 100, 'x.ini'), (err) => isEmperorError(err, 'EMP_ERR_CONFIG_PARSE') && err.file === 'x.ini');
  assert.throws(() => decodeConfigText(Buffer.alloc(101), 100, 'x.ini'), (err) => isEmperorError(err, 'EMP_ERR_CONFIG_READ'));
});
