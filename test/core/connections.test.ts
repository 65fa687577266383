/**
 * Counting the connections on an on-demand socket from the kernel's tables: rows as Linux writes
 * them, and a real unix socket with one client waiting and one accepted.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { countConnections, parseProcNetTcp, parseProcNetUnix, readConnectionTable } from '../../src/core/connections.js';
import { tempDir, waitFor } from '../helpers/wait.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:D432 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0000000000000000
   3: 0200007F:1F90 0100007F:D433 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:1F91 0000000000000000FFFF00000100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
   1: 00000000000000000000000001000000:1F92 00000000000000000000000001000000:C351 08 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 20 4 30 10 -1
`;

test('tcp rows: busy states on the port and address count; LISTEN and TIME_WAIT do not; v4-mapped and v6 rows too', () => {
  const table = { tcp: [...parseProcNetTcp(TCP), ...parseProcNetTcp(TCP6)], unix: [] };
  assert.deepEqual(table.tcp[1], { ip: '7f000001', port: 8080, state: 1 });
  assert.equal(countConnections(table, { kind: 'tcp', host: '127.0.0.1', port: 8080, text: '' }), 1);
  assert.equal(countConnections(table, { kind: 'tcp', host: '0.0.0.0', port: 8080, text: '' }), 2, 'every interface');
  assert.equal(countConnections(table, { kind: 'tcp', host: '127.0.0.1', port: 8081, text: '' }), 1, 'a v4 client of a dual-stack row');
  assert.equal(countConnections(table, { kind: 'tcp', host: '::1', port: 8082, text: '' }), 1, 'CLOSE_WAIT: the vassal still holds it');
  assert.equal(countConnections(table, { kind: 'tcp', host: '::', port: 8082, text: '' }), 1);
});

test('unix rows: accepted connections on the path count, the listener does not; waiting ones (state 2) parse as busy', async () => {
  const { dir, cleanup } = await tempDir('emperor-conn-');
  const path = join(dir, 's.sock');
  const accepted: Socket[] = [];
  const srv = createServer({ pauseOnConnect: true }, (c) => accepted.push(c));
  await new Promise<void>((r) => srv.listen(path, r));
  const clients: Socket[] = [];
  try {
    assert.equal(countConnections(await readConnectionTable(), { kind: 'unix', path, text: path }), 0);
    clients.push(connect({ path }));
    await waitFor(() => accepted.length === 1, { what: 'accepted' });
    assert.equal(countConnections(await readConnectionTable(), { kind: 'unix', path, text: path }), 1);
    clients.push(connect({ path }), connect({ path }));
    await waitFor(async () => countConnections(await readConnectionTable(), { kind: 'unix', path, text: path }) === 3, { what: 'three connections' });
    const rows = parseProcNetUnix(`Num       RefCount Protocol Flags    Type St Inode Path\n0000000033d16a47: 00000002 00000000 00010000 0001 01 486859 /tmp/a b.sock\n0000000041e284a5: 00000003 00000000 00000000 0001 02     0 /tmp/a b.sock\n`);
    assert.deepEqual(rows, [{ state: 1, path: '/tmp/a b.sock' }, { state: 2, path: '/tmp/a b.sock' }]);
  } finally {
    for (const c of [...clients, ...accepted]) c.destroy();
    srv.close();
    await cleanup();
  }
});
