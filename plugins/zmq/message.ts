/**
 * What one zmq message means: multipart `[command, name, config?, uid?, gid?, socket?]`.
 *
 * - `touch`: add or reload (every touch is a new revision). With a config part, that text is the
 *   config; without one (or an empty one), the config is the file `name` in the emperor's
 *   working directory.
 * - `destroy`: remove.
 *
 * `uid`/`gid` are decimal strings, `socket` an on-demand socket; empty parts count as absent.
 * In tyrant mode a config read from a file takes its owner's credentials.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { decodeConfigText, readConfigFile } from '../../src/monitors/remote-file.js';
import { formatOf } from '../../src/monitors/file-names.js';
import { checkMessageVassalName } from '../../src/monitors/state-store.js';
import type { MonitorContext, MonitorEvent, VassalSpec } from '../../src/monitors/types.js';

export interface PartsEnv {
  /** The monitor id: every spec's source. */
  source: string;
  ctx: MonitorContext;
  /** Where `touch` without a config looks for the file. */
  cwd: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_PARTS = 6;
const PART_NAMES = ['command', 'name', 'config', 'uid', 'gid', 'socket'] as const;

/** Never rejects: a message that cannot become a vassal is an `error` event saying why. */
export async function interpretParts(parts: readonly Uint8Array[], env: PartsEnv): Promise<MonitorEvent> {
  let name: string | undefined;
  try {
    if (parts.length < 2) {
      throw input(`a message needs at least 2 parts (command, name), got ${parts.length}`);
    }
    if (parts.length > MAX_PARTS) {
      throw input(`a message has at most ${MAX_PARTS} parts (${PART_NAMES.join(', ')}), got ${parts.length}`);
    }
    const command = text(parts, 0);
    if (command !== 'touch' && command !== 'destroy') {
      throw input(`unknown command ${JSON.stringify(command.slice(0, 40))}: expected touch or destroy`);
    }
    const given = text(parts, 1);
    checkMessageVassalName(given, env.ctx.extraExtensions);
    name = given;
    if (command === 'destroy') return { type: 'remove', name };

    const uid = id(parts, 3);
    const gid = id(parts, 4);
    const socket = parts.length > 5 && parts[5]!.byteLength > 0 ? text(parts, 5) : undefined;
    const config = parts[2];
    let spec: VassalSpec;
    if (config !== undefined && config.byteLength > 0) {
      const configText = decodeConfigText(config, env.ctx.maxConfigBytes, name);
      if (env.ctx.tyrant && (uid === undefined || gid === undefined)) {
        throw new EmperorError(ErrorCodes.PERMISSION, 'tyrant mode needs the uid and gid parts for a config carried in the message', { file: name });
      }
      spec = { name, source: env.source, config: { text: configText, format: formatOf(name, env.ctx.extraExtensions, configText) }, revision: randomUUID(), uid, gid, socket, pushed: true };
    } else {
      const path = join(env.cwd, name);
      const got = await readConfigFile(path, { maxBytes: env.ctx.maxConfigBytes, ownerOfLink: env.ctx.tyrantNofollow });
      if (!got.found) {
        throw new EmperorError(ErrorCodes.CONFIG_READ, `touch without a config part names a file that does not exist in the emperor's directory ${env.cwd}`, { file: path });
      }
      const ids = env.ctx.tyrant ? { uid: got.uid, gid: got.gid } : { uid, gid };
      spec = { name, source: env.source, config: { text: got.text, format: formatOf(name, env.ctx.extraExtensions, got.text), path }, revision: randomUUID(), ...ids, socket, pushed: false };
    }
    for (const k of ['uid', 'gid', 'socket'] as const) if (spec[k] === undefined) delete spec[k];
    return { type: 'upsert', spec };
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    return name === undefined ? { type: 'error', error } : { type: 'error', error, name };
  }
}

function input(why: string): EmperorError {
  return new EmperorError(ErrorCodes.MONITOR_INPUT, why);
}

function text(parts: readonly Uint8Array[], i: number): string {
  const part = parts[i]!;
  if (part.byteLength > 4096) throw input(`the ${PART_NAMES[i]} part is ${part.byteLength} bytes, expected at most 4096`);
  try {
    return strictUtf8.decode(part);
  } catch (err) {
    throw new EmperorError(ErrorCodes.MONITOR_INPUT, `the ${PART_NAMES[i]} part is not valid UTF-8`, { cause: err });
  }
}

function id(parts: readonly Uint8Array[], i: number): number | undefined {
  if (parts.length <= i || parts[i]!.byteLength === 0) return undefined;
  const t = text(parts, i);
  const n = /^\d{1,10}$/.test(t) ? Number(t) : Number.NaN;
  if (!(n <= 0xfffffffe)) {
    throw new EmperorError(ErrorCodes.MONITOR_INPUT, `the ${PART_NAMES[i]} part is ${JSON.stringify(t.slice(0, 40))}: expected a decimal number from 0 to 4294967294`, { key: PART_NAMES[i] });
  }
  return n;
}
