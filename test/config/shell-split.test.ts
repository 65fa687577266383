import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shellSplit, ShellSplitError } from '../../src/config/shell-split.js';

const strict = (s: string) => shellSplit(s, { strict: true, placeholders: true });

describe('shellSplit', () => {
  it('splits on blanks and keeps quoted text together', () => {
    assert.deepEqual(shellSplit('node  server.js\t--port 3031'), ['node', 'server.js', '--port', '3031']);
    assert.deepEqual(shellSplit(`echo 'a b' "c d" e' 'f`), ['echo', 'a b', 'c d', 'e f']);
    assert.deepEqual(shellSplit(''), []);
    assert.deepEqual(shellSplit('   '), []);
  });

  it('keeps empty quoted words', () => {
    assert.deepEqual(shellSplit(`prog '' ""`), ['prog', '', '']);
  });

  it('treats backslashes as a POSIX shell does', () => {
    assert.deepEqual(shellSplit('a\\ b c\\\\d \\"e'), ['a b', 'c\\d', '"e']);
    assert.deepEqual(shellSplit(`'a\\b'`), ['a\\b'], 'nothing is special inside single quotes');
    assert.deepEqual(shellSplit(`"a\\b \\" \\\\ \\$"`), ['a\\b " \\ $'], 'only $ ` " \\ are escaped inside double quotes');
    assert.deepEqual(shellSplit('a \\\nb'), ['a', 'b'], 'backslash-newline joins lines');
  });

  it('expands nothing', () => {
    assert.deepEqual(shellSplit('echo ~ *.js $HOME'), ['echo', '~', '*.js', '$HOME']);
    assert.deepEqual(strict(`echo '$HOME' "x*"`), ['echo', '$HOME', 'x*']);
  });

  it('refuses unterminated quotes and a trailing backslash', () => {
    assert.throws(() => shellSplit(`echo 'a`), (e: unknown) => e instanceof ShellSplitError && /unterminated single quote/.test(e.message) && e.index === 5);
    assert.throws(() => shellSplit(`echo "a`), /unterminated double quote/);
    assert.throws(() => shellSplit('echo a\\'), /trailing backslash/);
  });

  it('in strict mode refuses shell syntax that would mean something else without a shell', () => {
    assert.throws(() => strict('node a.js | tee log'), /unquoted '\|' is shell syntax/);
    assert.throws(() => strict('node a.js > out.log'), /unquoted '>'/);
    assert.throws(() => strict('a; b'), /unquoted ';'/);
    assert.throws(() => strict('a && b'), /unquoted '&'/);
    assert.throws(() => strict('node --port $PORT'), /'\$PORT' is not expanded .* write \$\(PORT\)/);
    assert.throws(() => strict('node "${PORT}"'), /'\$\{PORT\}' is not expanded/);
    assert.throws(() => strict('echo $1'), /'\$1' is shell syntax/);
    assert.throws(() => strict('echo `date`'), /backticks/);
    assert.throws(() => strict('echo "`date`"'), /backticks/);
    assert.throws(() => strict('node a.js # comment'), /'#' at the start of a word/);
  });

  it('in strict mode still passes literal text through', () => {
    assert.deepEqual(strict(`node -e 'a|b; c > d' "#x" a#b 100$ "50%"`), ['node', '-e', 'a|b; c > d', '#x', 'a#b', '100$', '50%']);
  });

  it('keeps the emperor placeholders whole, even with parentheses', () => {
    assert.deepEqual(strict('node %(app-dir)/a.js --home $(HOME) "%(x) y"'), ['node', '%(app-dir)/a.js', '--home', '$(HOME)', '%(x) y']);
    assert.throws(() => strict('echo $(date +%s)'), /command substitution/);
  });
});
