/**
 * Tyrant mode runs a config file as its owner, and the root emperor reads it. With
 * --tyrant-nofollow the owner is a symlink's, and the link may name a file its owner could never
 * read (a root vassal's config holding passwords): running that content as the link's owner would
 * hand it over. So a config file runs as its owner only if the owner could read that very content.
 *
 * The proof goes by content, so no swap of the link between the monitor's read and this check can
 * fool it: a file the user owns with this content (the user may read its own files), or this
 * content read by a process of the user (the kernel applies every permission, every symlink).
 * The common case, a file of the user's own, costs one read; only a config owned by someone else
 * costs a short process.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { EmperorError, ErrorCodes } from '../errors.js';
import { execHelperArgs, execHelperPath } from '../native/exec-helper.js';
import { describeCredentials, helperCredentials, type Credentials } from './credentials.js';

const READ_TIMEOUT_MS = 5000;

/** The file's bytes as root sees them, with its owner; undefined if it is not a regular file. */
async function readAsRoot(path: string, limit: number): Promise<{ uid: number; bytes: Buffer } | undefined> {
  // O_NONBLOCK: a FIFO swapped in must not hang the read; no effect on a regular file.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY).catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(st.size, limit) + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return { uid: st.uid, bytes: buf.subarray(0, bytesRead) };
  } finally {
    await fh.close();
  }
}

/** The file's bytes read by a process of `who` (at most `limit` + 1), or why it could not read them. */
function readAsUser(path: string, who: Credentials, limit: number): Promise<{ bytes: Buffer } | { reason: string }> {
  const helper = execHelperPath();
  const args = ['--', path];
  const child = helper
    ? spawn(helper, execHelperArgs(helperCredentials(who), '/bin/cat', args), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } })
    : spawn('/bin/cat', args, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], uid: who.uid, gid: who.gid, env: { PATH: '/usr/bin:/bin' } });
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    let settled = false;
    const finish = (r: { bytes: Buffer } | { reason: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ reason: `no answer within ${READ_TIMEOUT_MS} ms (a FIFO?)` });
    }, READ_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      size += d.length;
      // More than the config has: it is not this content, whatever follows.
      if (size > limit) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', (e) => finish({ reason: e.message }));
    child.once('close', (code) => {
      if (code === 0 || size > limit) finish({ bytes: Buffer.concat(out) });
      else finish({ reason: (err.trim().split('\n').pop() ?? '').replace(/^(?:\/bin\/)?cat: /, '') || `cat exited with code ${String(code)}` });
    });
  });
}

/**
 * Throws a PERMISSION error unless `who` could read `path` and find `text` there: the file is
 * `who`'s own with this content, or a process of `who` reads exactly this content through `path`.
 */
export async function assertOwnerMayRead(path: string, text: string, who: Credentials, origin: string): Promise<void> {
  const expected = Buffer.from(text, 'utf8');
  const mine = await readAsRoot(path, expected.length);
  if (mine !== undefined && mine.uid === who.uid && mine.bytes.toString('utf8') === text) return;
  const theirs = await readAsUser(path, who, expected.length);
  if ('bytes' in theirs && theirs.bytes.toString('utf8') === text) return;
  const why = 'reason' in theirs ? theirs.reason : 'it now reads differently; it is read again when it changes';
  throw new EmperorError(
    ErrorCodes.PERMISSION,
    `tyrant mode: the config runs as its owner (${describeCredentials(who)}), who could not read it: ${why}; a symlink makes its owner count (--tyrant-nofollow) only for a file that owner may read`,
    { file: origin },
  );
}
