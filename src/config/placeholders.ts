/**
 * Placeholders in config values, as uWSGI spells them: %n %s %d %p %e %h for the config file and
 * host, %(key) for another key's value (or a value the emperor computes, like the absolute
 * cgroup path), $(VAR) for the emperor's environment, %% for a literal %. Any other `%x` stays as
 * written, so URLs with %20 and regexes pass through untouched.
 */
import { basename, dirname, resolve } from 'node:path';

export class PlaceholderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

/** The single-letter placeholders. */
export interface FileVars {
  /** Name without extension. */
  n: string;
  /** File name. */
  s: string;
  /** Directory of the file, absolute, with a trailing slash (as uWSGI's %d). */
  d: string;
  /** Absolute path of the file. */
  p: string;
  /** Extension without the dot. */
  e: string;
  /** Host name. */
  h: string;
}

/**
 * The letters for a vassal. `name` is its name (`app.ini`, or a full path for glob vassals);
 * `path` the file it was read from, if any. A config without a file (a database row, a message)
 * has the emperor's cwd as %d and its name as %p.
 */
export function fileVars(opts: { name: string; path?: string; hostname: string; cwd: string }): FileVars {
  const file = opts.path === undefined ? undefined : resolve(opts.cwd, opts.path);
  const s = basename(file ?? opts.name);
  const dot = s.lastIndexOf('.');
  const dir = file === undefined ? opts.cwd : dirname(file);
  return {
    n: dot > 0 ? s.slice(0, dot) : s,
    s,
    d: dir.endsWith('/') ? dir : `${dir}/`,
    p: file ?? opts.name,
    e: dot > 0 ? s.slice(dot + 1) : '',
    h: opts.hostname,
  };
}

/** What %(name) can stand for, besides a key of the config. */
export type Computed = string | ((configValue: string | undefined) => string | undefined);

export interface PlaceholderScope {
  vars: FileVars;
  env: Readonly<Record<string, string | undefined>>;
  /** Values the emperor computes; a function receives the config's own (expanded) value of that key. */
  computed: Readonly<Record<string, Computed>>;
  /** The written value %(name) refers to (a key or a set-placeholder), expanded in turn. */
  named(name: string): string | undefined;
}

/** Nested %(key) references deeper than this are refused: real configs stay far below it. */
export const MAX_DEPTH = 32;

const NAME = /^[A-Za-z0-9_.-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Expand = (value: string) => string;

/** An expander for one config: %(key) results are computed once and shared by every value. */
export function createExpander(scope: PlaceholderScope): Expand {
  const done = new Map<string, string>();
  const stack: string[] = [];
  const letters = scope.vars as unknown as Readonly<Record<string, string>>;

  const resolveName = (name: string): string => {
    const cached = done.get(name);
    if (cached !== undefined) return cached;
    if (stack.includes(name)) {
      throw new PlaceholderError(`placeholder cycle: ${[...stack.slice(stack.indexOf(name)), name].map((k) => `%(${k})`).join(' -> ')}`);
    }
    if (stack.length >= MAX_DEPTH) {
      throw new PlaceholderError(`placeholders nested deeper than ${MAX_DEPTH}: ${stack.map((k) => `%(${k})`).join(' -> ')}`);
    }
    stack.push(name);
    try {
      const own = scope.named(name);
      const computed = Object.hasOwn(scope.computed, name) ? scope.computed[name] : undefined;
      let result: string | undefined;
      if (typeof computed === 'string') result = computed;
      else if (computed !== undefined) result = computed(own === undefined ? undefined : expand(own));
      if (result === undefined && own !== undefined) result = expand(own);
      if (result === undefined) {
        throw new PlaceholderError(`%(${name}) names no key, set-placeholder or value the emperor computes`);
      }
      done.set(name, result);
      return result;
    } finally {
      stack.pop();
    }
  };

  const expand = (value: string): string => {
    if (value.indexOf('%') === -1 && value.indexOf('$(') === -1) return value;
    let out = '';
    let from = 0;
    let i = 0;
    const n = value.length;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c !== 37 /* % */ && c !== 36 /* $ */) {
        i++;
        continue;
      }
      const next = value[i + 1];
      let replacement: string | undefined;
      let length = 2;
      if (c === 37) {
        if (next === '%') replacement = '%';
        else if (next === '(') {
          const close = value.indexOf(')', i + 2);
          if (close === -1) throw new PlaceholderError(`unclosed '%(' (write %% for a literal %)`);
          const name = value.slice(i + 2, close);
          if (!NAME.test(name)) throw new PlaceholderError(`'%(${name})' is not a placeholder name (letters, digits, _ . -; write %% for a literal %)`);
          replacement = resolveName(name);
          length = close + 1 - i;
        } else if (next !== undefined && Object.hasOwn(letters, next)) replacement = letters[next];
      } else if (next === '(') {
        const close = value.indexOf(')', i + 2);
        const name = close === -1 ? '' : value.slice(i + 2, close);
        if (ENV_NAME.test(name)) {
          replacement = scope.env[name] ?? '';
          length = close + 1 - i;
        }
      }
      if (replacement === undefined) {
        i++;
        continue;
      }
      out += value.slice(from, i) + replacement;
      i += length;
      from = i;
    }
    return out + value.slice(from);
  };

  return expand;
}
