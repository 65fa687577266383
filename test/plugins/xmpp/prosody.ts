/**
 * A private Prosody for one test file: its own config, data dir and c2s port on 127.0.0.1, no TLS
 * (no certificates in its own cert dir), plain SASL allowed, accounts made with prosodyctl.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { canConnect, freePort, tempDir, waitFor } from '../../helpers/wait.js';

const run = promisify(execFile);

export interface Prosody {
  port: number;
  domain: string;
  register(user: string, password: string): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function prosodyInstalled(): Promise<boolean> {
  try {
    await run('prosodyctl', ['--help']);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export async function createProsody(domain = 'alarms.test'): Promise<Prosody> {
  const { dir, cleanup } = await tempDir('emperor-prosody-');
  const port = await freePort();
  await mkdir(join(dir, 'data'));
  await mkdir(join(dir, 'certs'));
  const config = join(dir, 'prosody.cfg.lua');
  await writeFile(
    config,
    `pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}/certs"
run_as_root = true
plugin_paths = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "presence"; "message"; "iq"; }
modules_disabled = { "s2s"; "offline"; "c2s_direct_tls"; }
c2s_ports = { ${port} }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
c2s_direct_tls_ports = { }
legacy_ssl_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
log = { { levels = { min = "info" }, to = "file", filename = "${dir}/prosody.log" } }
VirtualHost "${domain}"
`,
  );
  let child: ChildProcess | undefined;
  const prosody: Prosody = {
    port,
    domain,
    async register(user, password) {
      await run('prosodyctl', ['--config', config, 'register', user, domain, password]);
    },
    async start() {
      child = spawn('prosody', ['--config', config, '-F'], { stdio: 'ignore' });
      const exited = once(child, 'exit').then(([code]) => {
        throw new Error(`prosody exited with ${String(code)}; see ${dir}/prosody.log`);
      });
      exited.catch(() => {});
      await Promise.race([waitFor(() => canConnect(port), { what: `prosody on 127.0.0.1:${port}`, timeoutMs: 20_000 }), exited]);
    },
    async stop() {
      const c = child;
      child = undefined;
      if (c === undefined || c.exitCode !== null) return;
      const gone = once(c, 'exit');
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
    async cleanup() {
      await prosody.stop();
      await cleanup();
    },
  };
  return prosody;
}
