/**
 * Users and groups from /etc/passwd and /etc/group: the name initgroups() needs, the groups a
 * user's processes will hold (for permission checks made on their behalf), a home for $HOME.
 */
import { readFile } from 'node:fs/promises';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

function rows(text: string): string[][] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

export async function userById(uid: number, passwd = '/etc/passwd'): Promise<PasswdEntry | undefined> {
  const text = await readFile(passwd, 'utf8').catch(() => '');
  for (const f of rows(text)) {
    if (f.length >= 7 && f[2] === String(uid)) {
      return { name: f[0]!, uid, gid: Number(f[3]), home: f[5]!, shell: f[6]! };
    }
  }
  return undefined;
}

/** What initgroups(name, gid) gives: `gid` and every group that lists `name` as a member. */
export async function groupsOf(name: string, gid: number, group = '/etc/group'): Promise<number[]> {
  const text = await readFile(group, 'utf8').catch(() => '');
  const out = new Set<number>([gid]);
  for (const f of rows(text)) {
    if (f.length >= 4 && f[3]!.split(',').includes(name)) out.add(Number(f[2]));
  }
  return [...out];
}
