import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../src/errors.js';
import { parseIni } from '../../src/config/ini.js';
import { parseConfig } from '../../src/config/load.js';
import { refuses } from './helpers.js';

const ini = (text: string) => parseConfig({ text, format: 'ini' }, 'v.ini');

describe('ini dialect', () => {
  it('keeps ; and # inside values: a comment is a whole line', () => {
    const raw = ini('[vassal]\nalarm = mail curl:smtp://h:25;mail_to=a@b;subject=x\nlog-alarm = mail foo # bar ; baz\n');
    assert.deepEqual(raw.entries, [
      { key: 'alarm', value: 'mail curl:smtp://h:25;mail_to=a@b;subject=x', line: 2 },
      { key: 'log-alarm', value: 'mail foo # bar ; baz', line: 3 },
    ]);
  });

  it('treats ; and # lines as comments, also after leading blanks', () => {
    const raw = ini('; top\n# top\n[vassal]\n   ; indented\n\t# tab\ncommand = a\n');
    assert.deepEqual(raw.entries, [{ key: 'command', value: 'a', line: 6 }]);
  });

  it('keeps repeated keys as repeated entries, in order, with their lines', () => {
    const raw = ini('[vassal]\nenv = A=1\nprocesses = 2\nenv = B=2\nenv = A=3\n');
    assert.deepEqual(
      raw.entries.map((e) => [e.key, e.value, e.line]),
      [
        ['env', 'A=1', 2],
        ['processes', '2', 3],
        ['env', 'B=2', 4],
        ['env', 'A=3', 5],
      ],
    );
  });

  it('trims keys and values and splits at the first =', () => {
    const raw = ini('[vassal]\n   env   =   A=b=c   \nempty =\n');
    assert.deepEqual(raw.entries, [
      { key: 'env', value: 'A=b=c', line: 2 },
      { key: 'empty', value: '', line: 3 },
    ]);
  });

  it('tolerates CRLF line ends and a UTF-8 BOM', () => {
    const raw = ini('\ufeff[vassal]\r\ncommand = node a.js\r\nprocesses = 2\r\n');
    assert.deepEqual(raw.entries, [
      { key: 'command', value: 'node a.js', line: 2 },
      { key: 'processes', value: '2', line: 3 },
    ]);
  });

  it('reads a key alone on its line as a flag set to true, as uWSGI does', () => {
    const raw = ini('[vassal]\nalarm-cheap\n');
    assert.deepEqual(raw.entries, [{ key: 'alarm-cheap', value: 'true', line: 2 }]);
  });

  it('picks [vassal] over [uwsgi] and ignores other sections', () => {
    const raw = ini('[emperor]\nx = 1\n[uwsgi]\nsocket = :80\n[vassal]\ncommand = a\n');
    assert.equal(raw.section, 'vassal');
    assert.deepEqual(raw.entries, [{ key: 'command', value: 'a', line: 6 }]);
  });

  it('continues a section named twice', () => {
    const sections = parseIni('[vassal]\na = 1\n[other]\nb = 2\n[vassal]\nc = 3\n', 'v.ini');
    assert.deepEqual(
      sections.map((s) => [s.name, s.entries.map((e) => e.key)]),
      [
        ['vassal', ['a', 'c']],
        ['other', ['b']],
      ],
    );
  });

  it('falls back to [uwsgi]', () => {
    assert.equal(ini('[uwsgi]\nsocket = :80\n').section, 'uwsgi');
  });

  it('refuses a line that is no key, section or comment, naming the line', () => {
    refuses(() => ini('[vassal]\ncommand = a\nthis is not a key\n'), {
      code: ErrorCodes.CONFIG_PARSE,
      file: 'v.ini',
      line: 3,
      message: "expected 'key = value', a [section] or a comment line, got 'this is not a key'",
    });
  });

  it('refuses an entry before any section', () => {
    refuses(() => ini('command = a\n[vassal]\n'), {
      code: ErrorCodes.CONFIG_PARSE,
      line: 1,
      message: "'command' comes before any section: put it under a [vassal] header",
    });
  });

  it('refuses a header with text after it, since comments are only whole lines', () => {
    refuses(() => ini('[vassal] ; main\ncommand = a\n'), { code: ErrorCodes.CONFIG_PARSE, line: 1, message: /section header/ });
    refuses(() => ini('[]\n'), { code: ErrorCodes.CONFIG_PARSE, line: 1, message: /section header/ });
  });

  it('refuses a missing key and a key with spaces', () => {
    refuses(() => ini('[vassal]\n= value\n'), { code: ErrorCodes.CONFIG_PARSE, line: 2, message: /nothing before '='/ });
    refuses(() => ini('[vassal]\nmy key = value\n'), { code: ErrorCodes.CONFIG_PARSE, line: 2, message: /a key has no spaces/ });
  });

  it('says which sections it found when there is no [vassal] or [uwsgi]', () => {
    refuses(() => ini('[app]\ncommand = a\n[emperor]\n'), {
      code: ErrorCodes.CONFIG_INVALID,
      file: 'v.ini',
      message: 'expected a [vassal] section (or [uwsgi] for a uWSGI instance), found [app], [emperor]',
    });
    refuses(() => ini('; only comments\n'), { code: ErrorCodes.CONFIG_INVALID, message: /found none$/ });
  });

  it('parses a large file in linear time', () => {
    const lines = ['[vassal]'];
    for (let i = 0; i < 200_000; i++) lines.push(`env = K${i}=${'v'.repeat(20)};#=${i}`);
    const start = performance.now();
    const raw = ini(lines.join('\n'));
    assert.equal(raw.entries.length, 200_000);
    assert.equal(raw.entries[199_999]!.line, 200_001);
    assert.ok(performance.now() - start < 5000, 'a 200,000-line file parses in well under 5 s');
  });
});
