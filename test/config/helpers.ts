/** Shared by the config tests: load a text as a vassal, and check a refusal's code and location. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmperorError, type ErrorCode } from '../../src/errors.js';
import { loadVassalConfig, type LoadOptions } from '../../src/config/load.js';
import type { ConfigFormat } from '../../src/monitors/types.js';
import type { UwsgiVassalConfig, VassalConfig } from '../../src/config/types.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'configs');

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export const baseOptions: LoadOptions = { name: 'app.ini', hostname: 'web1', env: {}, cwd: '/srv' };

export function load(text: string, format: ConfigFormat = 'ini', opts: Partial<LoadOptions> & { path?: string } = {}): VassalConfig {
  const { path, ...rest } = opts;
  const loaded = loadVassalConfig({ text, format, ...(path === undefined ? {} : { path }) }, { ...baseOptions, ...rest });
  assert.equal(loaded.kind, 'vassal');
  return (loaded as { kind: 'vassal'; config: VassalConfig }).config;
}

export function loadUwsgi(text: string, opts: Partial<LoadOptions> & { path?: string } = {}): UwsgiVassalConfig {
  const { path, ...rest } = opts;
  const loaded = loadVassalConfig({ text, format: 'ini', ...(path === undefined ? {} : { path }) }, { ...baseOptions, ...rest });
  assert.equal(loaded.kind, 'uwsgi');
  return (loaded as { kind: 'uwsgi'; config: UwsgiVassalConfig }).config;
}

/** A vassal section with a command, plus the lines given. */
export function vassal(...lines: string[]): string {
  return ['[vassal]', 'command = node app.js', ...lines].join('\n') + '\n';
}

export interface Refusal {
  code: ErrorCode;
  file?: string;
  line?: number;
  key?: string;
  message?: RegExp | string;
}

export function refuses(fn: () => unknown, want: Refusal): EmperorError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof EmperorError, `expected an EmperorError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  const err = caught;
  assert.equal(err.code, want.code, err.located);
  if (typeof want.message === 'string') assert.equal(err.message, want.message);
  else if (want.message !== undefined) assert.match(err.message, want.message);
  if ('file' in want) assert.equal(err.file, want.file, err.located);
  if ('line' in want) assert.equal(err.line, want.line, err.located);
  if ('key' in want) assert.equal(err.key, want.key, err.located);
  return err;
}
