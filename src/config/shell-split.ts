/**
 * Splits a command line into argv the way a POSIX shell would (whitespace, '…', "…", backslashes),
 * without expanding anything: the command runs without a shell. In strict mode, shell syntax that
 * would silently mean something else here (pipes, redirections, `$VAR`, backticks, `# comments`)
 * is refused with a message saying what to write instead.
 */

export class ShellSplitError extends Error {
  constructor(
    message: string,
    /** Offset in the input where the problem starts. */
    readonly index: number,
  ) {
    super(message);
    this.name = 'ShellSplitError';
  }
}

export interface ShellSplitOptions {
  /** Refuse unquoted shell operators and expansions instead of passing them on literally. */
  strict?: boolean;
  /** Keep the emperor's `%(key)` and `$(VAR)` placeholders as literal word text. */
  placeholders?: boolean;
}

const OPERATORS = '|&;<>()';
const PLACEHOLDER = /^(?:%\([A-Za-z0-9_.-]+\)|\$\([A-Za-z_][A-Za-z0-9_]*\))/;

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

export function shellSplit(input: string, opts: ShellSplitOptions = {}): string[] {
  const argv: string[] = [];
  let word: string | undefined;
  let i = 0;
  const n = input.length;

  const placeholderAt = (at: number): string | undefined => {
    if (!opts.placeholders) return undefined;
    const c = input[at];
    if ((c !== '%' && c !== '$') || input[at + 1] !== '(') return undefined;
    return PLACEHOLDER.exec(input.slice(at, at + 256))?.[0];
  };
  const refuseExpansion = (at: number): void => {
    const rest = input.slice(at + 1, at + 130);
    if (rest.startsWith('(')) {
      throw new ShellSplitError("'$(' command substitution needs a shell: run one yourself (sh -c '…') or quote it with '…'", at);
    }
    const name = /^(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(rest);
    if (name !== null) {
      const v = name[1] ?? name[2]!;
      throw new ShellSplitError(`'$${name[0]}' is not expanded (commands run without a shell): write $(${v}) for the emperor's environment, or quote it with '…'`, at);
    }
    if (rest !== '' && '{0123456789?$#@*!'.includes(rest[0]!)) {
      throw new ShellSplitError(`'$${rest[0]!}' is shell syntax and commands run without a shell: quote it with '…' if it is meant literally`, at);
    }
  };

  while (i < n) {
    const c = input[i]!;
    if (isBlank(c)) {
      if (word !== undefined) argv.push(word);
      word = undefined;
      i++;
      continue;
    }
    const ph = placeholderAt(i);
    if (ph !== undefined) {
      word = (word ?? '') + ph;
      i += ph.length;
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= n) throw new ShellSplitError('a trailing backslash escapes nothing', i);
      if (input[i + 1] === '\n') {
        i += 2;
        continue;
      }
      word = (word ?? '') + input[i + 1]!;
      i += 2;
      continue;
    }
    if (c === "'") {
      const close = input.indexOf("'", i + 1);
      if (close === -1) throw new ShellSplitError('unterminated single quote', i);
      word = (word ?? '') + input.slice(i + 1, close);
      i = close + 1;
      continue;
    }
    if (c === '"') {
      let chunk = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new ShellSplitError('unterminated double quote', i);
        const d = input[j]!;
        if (d === '"') break;
        const inner = placeholderAt(j);
        if (inner !== undefined) {
          chunk += inner;
          j += inner.length;
          continue;
        }
        if (d === '\\' && j + 1 < n && '$`"\\\n'.includes(input[j + 1]!)) {
          if (input[j + 1] !== '\n') chunk += input[j + 1];
          j += 2;
          continue;
        }
        if (opts.strict && d === '$') refuseExpansion(j);
        if (opts.strict && d === '`') throw new ShellSplitError("backticks need a shell; run it through one (sh -c '…') or escape them", j);
        chunk += d;
        j++;
      }
      word = (word ?? '') + chunk;
      i = j + 1;
      continue;
    }
    if (opts.strict) {
      if (OPERATORS.includes(c)) {
        throw new ShellSplitError(`unquoted '${c}' is shell syntax and commands run without a shell: quote it, or run a shell yourself (sh -c '…')`, i);
      }
      if (c === '`') throw new ShellSplitError("backticks need a shell; run it through one (sh -c '…') or quote them", i);
      if (c === '$') refuseExpansion(i);
      if (c === '#' && word === undefined) {
        throw new ShellSplitError("'#' at the start of a word begins a comment in a shell: quote it if it is an argument, remove it if it is a comment", i);
      }
    }
    word = (word ?? '') + c;
    i++;
  }
  if (word !== undefined) argv.push(word);
  return argv;
}
