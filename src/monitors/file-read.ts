/**
 * Reading one config file safely: only once its writer is done, never more than the size limit,
 * and with every way of failing turned into a value the monitor can report (missing, a directory,
 * a symlink loop, no permission, too large).
 *
 * "Done" is asked of the kernel first: a file no process has open for writing is complete (a file
 * renamed into place, a touch, a writer that closed it) and is read at once. Where the kernel
 * cannot tell (no lease support, not our file and no CAP_LEASE, the addon not built) the file must
 * instead have stopped changing for the settle time, which a writer pausing longer defeats.
 */
import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { Writers } from '../native/file-lease.js';
import type { Limit } from './limit.js';

export interface ReadOptions {
  /** Quiet time a file needs before it is read when its writers cannot be known; 0 reads at once, always. */
  settleMs: number;
  /** Whether some process has the file behind a read-only fd open for writing. */
  writers: (fd: number) => Writers;
  /** How long an announced file must stay missing before it counts as removed (editors that delete then recreate). */
  removeGraceMs: number;
  maxBytes: number;
  /** Owner and extra change detection from the symlink itself (lstat). */
  nofollow: boolean;
  limit: Limit;
}

export interface FileRead {
  kind: 'file';
  bytes: Buffer;
  /** Hex digest of the bytes. */
  hash: string;
  /** Changes whenever the file (or, with nofollow, the link) changes in any way: the cheap rescan test. */
  sig: string;
  mtimeNs: bigint;
  /** The link's own mtime with nofollow (`touch --no-dereference` reloads). */
  linkMtimeNs: bigint | undefined;
  uid: number;
  gid: number;
}

export interface FileMissing {
  kind: 'missing';
}

export interface FileFault {
  kind: 'error';
  error: EmperorError;
  /** Same key, same fault: it is reported once, not at every rescan. */
  key: string;
  /** Set when the fault is a property of the file as it is (a directory, a loop, too large): while the sig holds, rereading is pointless. */
  sig: string | undefined;
}

export type FileState = FileRead | FileMissing | FileFault;

/** What a cheap stat says, for rescans: the sig to compare, or that the path is gone. */
export type FileProbe = { kind: 'present'; sig: string } | { kind: 'missing' } | { kind: 'unknown' };

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
/** A file held open for writing but unchanged this long is read anyway: a writer that never closes must not hide it forever. */
const HELD_OPEN_QUIET_MS = 5000;
/** Re-asking whether the writer is done: soon at first (touch(1) closes right after its event), then every 50 ms. */
const WRITER_POLL_FIRST_MS = 1;
const WRITER_POLL_MAX_MS = 50;

function fileSig(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.uid}:${s.gid}:${s.mode}`;
}

function linkSig(s: BigIntStats): string {
  return `${s.ino}:${s.mtimeNs}:${s.ctimeNs}:${s.uid}:${s.gid}`;
}

/** A directory stays the same fault while it exists, whatever is added inside it. */
function dirSig(s: BigIntStats): string {
  return `d:${s.dev}:${s.ino}`;
}

function errCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'UNKNOWN';
}

function isGone(code: string): boolean {
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function fault(path: string, message: string, key: string, sig: string | undefined, cause?: unknown): FileFault {
  return { kind: 'error', error: new EmperorError(ErrorCodes.CONFIG_READ, message, { file: path, cause }), key, sig };
}

async function lstatSig(path: string): Promise<string | undefined> {
  try {
    return linkSig(await lstat(path, { bigint: true }));
  } catch {
    return undefined;
  }
}

/** Turns a failed stat/open into missing or a fault; only faults that stem from the file itself get a sig. */
async function fromError(path: string, err: unknown): Promise<FileMissing | FileFault> {
  const code = errCode(err);
  if (isGone(code)) return { kind: 'missing' };
  if (code === 'ELOOP') {
    const sig = await lstatSig(path);
    return fault(path, 'cannot read vassal config: symlink loop (too many levels of symbolic links)', `ELOOP|${sig ?? ''}`, sig, err);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    const sig = await stat(path, { bigint: true }).then(fileSig, () => lstatSig(path));
    return fault(path, `cannot read vassal config: permission denied (${code})`, `${code}|${sig ?? ''}`, sig, err);
  }
  if (code === 'ENXIO') {
    const sig = await lstatSig(path);
    return fault(path, 'cannot read vassal config: not a regular file (a socket or device)', `ENXIO|${sig ?? ''}`, sig, err);
  }
  // Transient (EMFILE, EIO...): no sig, so the next rescan tries again; the key still stops repeats.
  const message = err instanceof Error ? err.message : String(err);
  return fault(path, `cannot read vassal config: ${message}`, code, undefined, err);
}

function quietFor(s: BigIntStats, now: number): number {
  const last = Number(s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs) / 1e6;
  return now - last;
}

/** Filesystems with one-second timestamps make a busy file look older than it is: demand a second more. */
function neededQuiet(s: BigIntStats, settleMs: number): number {
  const coarse = s.mtimeNs % 1_000_000_000n === 0n && s.ctimeNs % 1_000_000_000n === 0n;
  return coarse ? settleMs + 1000 : settleMs;
}

/** The cheap check a rescan makes before deciding whether a file needs reading. */
export async function probeFile(path: string, nofollow: boolean): Promise<FileProbe> {
  try {
    const s = await stat(path, { bigint: true });
    if (s.isDirectory()) return { kind: 'present', sig: dirSig(s) };
    if (!nofollow) return { kind: 'present', sig: fileSig(s) };
    const l = await lstat(path, { bigint: true });
    return { kind: 'present', sig: `${fileSig(s)}|${linkSig(l)}` };
  } catch (err) {
    const code = errCode(err);
    if (isGone(code)) return { kind: 'missing' };
    if (code === 'ELOOP') {
      const sig = await lstatSig(path);
      return sig === undefined ? { kind: 'unknown' } : { kind: 'present', sig };
    }
    return { kind: 'unknown' };
  }
}

/** busy: unchanged for too short a time (waitMs) or, with waitMs undefined, still open for writing. */
type Attempt = FileState | { kind: 'busy'; sig: string; waitMs: number | undefined } | { kind: 'changed' };

async function readAll(fh: FileHandle, size: number, maxBytes: number): Promise<Buffer> {
  // One byte of headroom shows a file that grew past the limit while it was read.
  const buf = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return buf.subarray(0, off);
}

function tooLarge(path: string, size: bigint | number, maxBytes: number, sig: string): FileFault {
  return fault(
    path,
    `vassal config is too large: ${size} bytes, the limit is ${maxBytes} bytes (--max-config-size)`,
    `E2BIG|${sig}`,
    sig,
  );
}

async function attempt(path: string, o: ReadOptions, prevSig: string | undefined): Promise<Attempt> {
  let fh: FileHandle;
  try {
    fh = await open(path, OPEN_FLAGS);
  } catch (err) {
    return fromError(path, err);
  }
  try {
    const s = await fh.stat({ bigint: true });
    if (s.isDirectory()) {
      const sig = dirSig(s);
      return fault(path, 'cannot read vassal config: it is a directory, not a file', `EISDIR|${sig}`, sig);
    }
    if (!s.isFile()) {
      const sig = fileSig(s);
      return fault(path, 'cannot read vassal config: not a regular file (a fifo, socket or device)', `ENOTREG|${sig}`, sig);
    }
    let link: BigIntStats | undefined;
    if (o.nofollow) {
      try {
        link = await lstat(path, { bigint: true });
      } catch (err) {
        return fromError(path, err);
      }
    }
    const sig = link === undefined ? fileSig(s) : `${fileSig(s)}|${linkSig(link)}`;
    const needed = neededQuiet(s, o.settleMs);
    const quiet = quietFor(s, Date.now());
    const heldOpenLimit = Math.max(needed, HELD_OPEN_QUIET_MS);
    if (o.settleMs > 0 && quiet < heldOpenLimit) {
      const writers = o.writers(fh.fd);
      if (writers === 'yes') return { kind: 'busy', sig, waitMs: undefined };
      // Without an answer: settled when its times say so, or when it did not change while we waited (clock skew, future mtimes).
      if (writers === 'unknown' && quiet < needed && sig !== prevSig) {
        return { kind: 'busy', sig, waitMs: Math.max(1, Math.min(needed - quiet, needed)) };
      }
    }
    if (s.size > BigInt(o.maxBytes)) return tooLarge(path, s.size, o.maxBytes, sig);
    const bytes = await readAll(fh, Number(s.size), o.maxBytes);
    const after = await fh.stat({ bigint: true });
    if (fileSig(after) !== fileSig(s) || bytes.length !== Number(s.size)) return { kind: 'changed' };
    return {
      kind: 'file',
      bytes,
      hash: createHash('sha1').update(bytes).digest('hex'),
      sig,
      mtimeNs: s.mtimeNs,
      linkMtimeNs: link?.mtimeNs,
      uid: Number((link ?? s).uid),
      gid: Number((link ?? s).gid),
    };
  } catch (err) {
    return fromError(path, err);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * The file's state once it has settled. `announced` says whether a vanished file must be confirmed
 * missing after the grace period (it is running) or can be reported at once (it never was).
 * Rejects only with the signal's abort.
 */
export async function readSettled(path: string, o: ReadOptions, signal: AbortSignal, announced: boolean): Promise<FileState> {
  let prevSig: string | undefined;
  let missingSeen = false;
  let writerPoll = WRITER_POLL_FIRST_MS;
  for (;;) {
    signal.throwIfAborted();
    const r = await o.limit(() => attempt(path, o, prevSig));
    switch (r.kind) {
      case 'busy':
        missingSeen = false;
        prevSig = r.sig;
        if (r.waitMs === undefined) {
          await sleep(writerPoll, undefined, { signal });
          writerPoll = Math.min(writerPoll * 2, WRITER_POLL_MAX_MS);
        } else {
          await sleep(r.waitMs, undefined, { signal });
        }
        break;
      case 'changed':
        missingSeen = false;
        prevSig = undefined;
        break;
      case 'missing':
        if (!announced || missingSeen) return r;
        missingSeen = true;
        prevSig = undefined;
        await sleep(o.removeGraceMs, undefined, { signal });
        break;
      default:
        return r;
    }
  }
}
