/**
 * The file-lease addon (file-lease.c): whether some process still has a file open for writing,
 * from the kernel's read-lease rule. Config files are read as soon as their writer is done instead
 * of after a fixed quiet time; where this cannot be answered the caller falls back to that time.
 */
import { getSystemErrorName } from 'node:util';
import { loadAddon, type AddonResult } from './addon.js';

interface FileLeaseAddon {
  writers(fd: number): number;
}

/** 'yes': a writer holds it open; 'no': nobody does; 'unknown': the kernel cannot tell (see reason). */
export type Writers = 'yes' | 'no' | 'unknown';

let loaded: AddonResult<FileLeaseAddon> | undefined;
let lastRefusal: string | undefined;

function addon(): AddonResult<FileLeaseAddon> {
  loaded ??= loadAddon<FileLeaseAddon>('file-lease', 'the file-lease addon', ['writers']);
  return loaded;
}

/** Whether any process has the file behind `fd` (open read-only) open for writing. */
export function writersOf(fd: number): Writers {
  const a = addon();
  if (!('addon' in a)) return 'unknown';
  const r = a.addon.writers(fd);
  if (r === 0) return 'no';
  if (r === 1) return 'yes';
  lastRefusal = `the kernel refused a read lease (${getSystemErrorName(r)})`;
  return 'unknown';
}

/** Why writersOf said 'unknown' (the addon missing, or the kernel's last refusal). */
export function writersUnknownReason(): string {
  const a = addon();
  return 'reason' in a ? a.reason : (lastRefusal ?? 'no reason recorded');
}
