/**
 * The control socket's default place, where both the emperor and the `emperor` subcommands look:
 * /run/emperor/control.sock for root, $XDG_RUNTIME_DIR/emperor/control.sock for a user with a
 * runtime directory, /tmp/emperor-$UID/control.sock otherwise.
 */
import { lstat, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EmperorError, ErrorCodes } from '../errors.js';

export function defaultControlPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) return '/run/emperor/control.sock';
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith('/')) return join(runtime, 'emperor', 'control.sock');
  return join('/tmp', `emperor-${uid}`, 'control.sock');
}

/**
 * Creates the socket's directory (mode 0700) when missing, and refuses one that another user
 * owns or could write to: in /tmp, someone else could have made it first.
 */
export async function prepareControlDir(path: string, option: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    throw new EmperorError(ErrorCodes.USAGE, `${option} ${path}: cannot create ${dir}: ${err.code ?? err.message}`, { key: option, cause: err });
  });
  const st = await lstat(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new EmperorError(ErrorCodes.USAGE, `${option} ${path}: ${dir} is not a directory`, { key: option });
  if (st.uid !== uid && st.uid !== 0) throw new EmperorError(ErrorCodes.USAGE, `${option} ${path}: ${dir} belongs to uid ${st.uid}, not to this user (${uid})`, { key: option });
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw new EmperorError(ErrorCodes.USAGE, `${option} ${path}: ${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)}); use a private directory`, { key: option });
  }
}
