/**
 * Private copies of pushed configs too large for the config pipe (uWSGI reads a 16-bit size):
 * the vassal is started with the copy's path instead of emperor://NAME. Each copy is 0600 in a
 * 0700 directory of its own, both owned by the vassal's user, under one directory per emperor
 * (0711: entered, never listed), so only the vassal and root can read a config. The file keeps
 * the vassal's name, so uWSGI's %n, %s and %e mean what they would with emperor://NAME.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface Owner {
  uid?: number;
  gid?: number;
}

/** Where the emperor's private runtime files go: $XDG_RUNTIME_DIR, else /run as root, else the temp dir. */
export function defaultRuntimeRoot(): string {
  return process.env.XDG_RUNTIME_DIR ?? (process.getuid?.() === 0 ? '/run' : tmpdir());
}

export class PrivateConfigs {
  private base: Promise<string> | undefined;
  private closed = false;
  private seq = 0;

  constructor(private readonly root: string) {}

  /** The path the copy of `vassal`'s config has (whether or not it is written yet). */
  async pathFor(vassal: string): Promise<string> {
    return join(await this.dir(), dirName(vassal), basename(vassal));
  }

  /** Writes the copy atomically (a reader sees the old or the new config, never half of one). */
  async write(vassal: string, text: string, owner: Owner): Promise<string> {
    const path = await this.pathFor(vassal);
    const dir = join(path, '..');
    await mkdir(dir, { mode: 0o700, recursive: true });
    const tmp = join(dir, `.${++this.seq}.tmp`);
    await writeFile(tmp, text, { mode: 0o600 });
    if (owner.uid !== undefined || owner.gid !== undefined) {
      const uid = owner.uid ?? -1;
      const gid = owner.gid ?? -1;
      await chown(dir, uid, gid);
      await chown(tmp, uid, gid);
    }
    await rename(tmp, path);
    return path;
  }

  async remove(vassal: string): Promise<void> {
    if (!this.base) return;
    await rm(join(await this.base, dirName(vassal)), { recursive: true, force: true });
  }

  /** Removes every copy. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const base = this.base;
    if (base) await rm(await base, { recursive: true, force: true }).catch(() => {});
  }

  private dir(): Promise<string> {
    if (this.closed) return Promise.reject(new Error('private config store is closed'));
    this.base ??= (async () => {
      await mkdir(this.root, { recursive: true });
      const dir = await mkdtemp(join(this.root, 'emperor-uwsgi-'));
      await chmod(dir, 0o711);
      return dir;
    })().catch((err: unknown) => {
      // A root that cannot be created now may be creatable at the next config.
      this.base = undefined;
      throw err;
    });
    return this.base;
  }
}

/** One directory per vassal name, whatever characters the name has. */
function dirName(vassal: string): string {
  return createHash('sha256').update(vassal).digest('hex').slice(0, 32);
}
