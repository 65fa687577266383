/**
 * Config text that a message points at rather than carries: an http(s) URL, or a file path (an
 * absolute path in an AMQP body, a name in the emperor's directory for zmq). Every read is
 * capped, decoded strictly as UTF-8 and bounded in time, so one bad pointer costs an error event,
 * never the emperor's memory or event loop.
 */
import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { EmperorError, ErrorCodes } from '../errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes config bytes: refuses more than `maxBytes` and anything that is not valid UTF-8. */
export function decodeConfigText(bytes: Uint8Array, maxBytes: number, origin: string): string {
  if (bytes.byteLength > maxBytes) {
    throw new EmperorError(ErrorCodes.CONFIG_READ, `config is ${bytes.byteLength} bytes, above the ${maxBytes}-byte limit`, { file: origin });
  }
  try {
    return strictUtf8.decode(bytes);
  } catch (err) {
    throw new EmperorError(ErrorCodes.CONFIG_PARSE, 'config is not valid UTF-8 text', { file: origin, cause: err });
  }
}

export type LocalConfig =
  /** `uid`/`gid`: the owner, of the file or (with `ownerOfLink`) of the symlink that names it. */
  | { found: true; text: string; uid: number; gid: number }
  /** The path, or one of its directories, does not exist. */
  | { found: false };

/**
 * Reads a regular file (a symlink to one counts). A path that is gone is `found: false`; a
 * directory, a FIFO, an unreadable or oversized file is an EmperorError.
 */
export async function readConfigFile(path: string, opts: { maxBytes: number; ownerOfLink?: boolean }): Promise<LocalConfig> {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { found: false };
    throw new EmperorError(ErrorCodes.CONFIG_READ, `cannot open: ${messageOf(err)}`, { file: path, cause: err });
  }
  try {
    const stat = await fh.stat();
    if (stat.isDirectory()) throw new EmperorError(ErrorCodes.CONFIG_READ, 'is a directory, expected a regular config file', { file: path });
    if (!stat.isFile()) throw new EmperorError(ErrorCodes.CONFIG_READ, 'is not a regular file', { file: path });
    if (stat.size > opts.maxBytes) {
      throw new EmperorError(ErrorCodes.CONFIG_READ, `config is ${stat.size} bytes, above the ${opts.maxBytes}-byte limit`, { file: path });
    }
    // Read to the end, not to fstat's size: a file that grew since is still held to the cap.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, opts.maxBytes + 1 - length));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > opts.maxBytes) break;
    }
    const text = decodeConfigText(Buffer.concat(chunks, length), opts.maxBytes, path);
    const owner = opts.ownerOfLink ? await lstat(path) : stat;
    return { found: true, text, uid: owner.uid, gid: owner.gid };
  } catch (err) {
    if (err instanceof EmperorError) throw err;
    throw new EmperorError(ErrorCodes.CONFIG_READ, `cannot read: ${messageOf(err)}`, { file: path, cause: err });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export type RemoteConfig =
  | { found: true; text: string }
  /** The server answered, but not 200: the config is withdrawn. */
  | { found: false; status: number };

/**
 * GETs an http(s) config. 200 is the config; any other status is `found: false`. No answer
 * within `timeoutMs` (or an abort), a body above `maxBytes` or one that is not UTF-8 is an
 * EmperorError: the server was not heard, so nothing is concluded about the vassal.
 */
export async function fetchConfig(url: string, opts: { maxBytes: number; timeoutMs: number; signal?: AbortSignal }): Promise<RemoteConfig> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal === undefined ? timeout : AbortSignal.any([opts.signal, timeout]);
  const fail = (why: string, cause?: unknown): EmperorError =>
    new EmperorError(ErrorCodes.CONFIG_READ, why, { file: url, cause });
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow', headers: { accept: 'text/plain, */*' } });
  } catch (err) {
    if (timeout.aborted) throw fail(`no answer within ${opts.timeoutMs} ms`, err);
    throw fail(`request failed: ${messageOf(causeOf(err))}`, err);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    return { found: false, status: res.status };
  }
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > opts.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw fail(`config is ${declared} bytes, above the ${opts.maxBytes}-byte limit`);
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    if (res.body !== null) {
      for await (const chunk of res.body) {
        length += chunk.byteLength;
        if (length > opts.maxBytes) {
          await res.body.cancel().catch(() => undefined);
          throw fail(`config is above the ${opts.maxBytes}-byte limit`);
        }
        chunks.push(chunk);
      }
    }
  } catch (err) {
    if (err instanceof EmperorError) throw err;
    if (timeout.aborted) throw fail(`body not received within ${opts.timeoutMs} ms`, err);
    throw fail(`reading the body failed: ${messageOf(err)}`, err);
  }
  return { found: true, text: decodeConfigText(Buffer.concat(chunks, length), opts.maxBytes, url) };
}

function codeOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** fetch wraps network failures in "fetch failed"; the cause says what happened. */
function causeOf(err: unknown): unknown {
  return err instanceof Error && err.cause !== undefined ? err.cause : err;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
