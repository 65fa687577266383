/** A self-signed certificate for 127.0.0.1/localhost, made by openssl in a fresh temp dir. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../../helpers/wait.js';

export interface SelfSigned {
  key: Buffer;
  cert: Buffer;
  cleanup(): Promise<void>;
}

export async function selfSigned(): Promise<SelfSigned> {
  const { dir, cleanup } = await tempDir('emperor-cert-');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ]);
  return { key: await readFile(key), cert: await readFile(cert), cleanup };
}
