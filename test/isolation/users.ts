/**
 * Real users and groups for tyrant-mode tests: unique names, removed afterwards. useradd locks
 * /etc/passwd, and other tests may hold the lock for a moment: busy attempts are retried.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  remove(): Promise<void>;
}

async function retried(cmd: string, args: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    try {
      await run(cmd, args);
      return;
    } catch (err) {
      const text = String((err as { stderr?: unknown }).stderr ?? '') || (err as Error).message;
      if (!/lock|busy|try again/i.test(text) || Date.now() > deadline) throw new Error(`${cmd} ${args.join(' ')}: ${text.trim()}`);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  const { stdout } = await run('id', [flag, name]);
  return Number(stdout.trim());
}

/** A new user with its own group, no home directory, no login shell. */
export async function createUser(extraGroups: readonly string[] = []): Promise<TestUser> {
  const name = `emp${randomBytes(4).toString('hex')}`;
  const args = ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin'];
  if (extraGroups.length > 0) args.push('--groups', extraGroups.join(','));
  await retried('useradd', [...args, name]);
  const uid = await idOf('-u', name);
  const gid = await idOf('-g', name);
  return { name, uid, gid, remove: () => retried('userdel', [name]) };
}

export interface TestGroup {
  name: string;
  gid: number;
  remove(): Promise<void>;
}

export async function createGroup(): Promise<TestGroup> {
  const name = `empg${randomBytes(4).toString('hex')}`;
  await retried('groupadd', [name]);
  const { stdout } = await run('getent', ['group', name]);
  return { name, gid: Number(stdout.split(':')[2]), remove: () => retried('groupdel', [name]) };
}

/** The Uid, Gid, Groups and NoNewPrivs lines of a live process. */
export async function processIds(pid: number): Promise<{ uid: number[]; gid: number[]; groups: number[]; noNewPrivs: number }> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (k: string): string => status.split('\n').find((l) => l.startsWith(`${k}:`))?.slice(k.length + 1).trim() ?? '';
  const nums = (s: string): number[] => s.split(/\s+/).filter(Boolean).map(Number);
  return { uid: nums(field('Uid')), gid: nums(field('Gid')), groups: nums(field('Groups')), noNewPrivs: Number(field('NoNewPrivs')) };
}
