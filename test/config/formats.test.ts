import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { ErrorCodes } from '../../src/errors.js';
import { detectFormat, isConfigName, loadVassalConfig, parseConfig, sniffFormat } from '../../src/config/load.js';
import type { ConfigFormat } from '../../src/monitors/types.js';
import { baseOptions, fixture, FIXTURES, refuses } from './helpers.js';

const parse = (text: string, format: ConfigFormat) => parseConfig({ text, format }, `v.${format}`);
const pairs = (text: string, format: ConfigFormat) => parse(text, format).entries.map((e) => [e.key, e.value, e.line]);

describe('yaml', () => {
  it('turns lists into repeated entries and keeps scalars as written', () => {
    const text = 'vassal:\n  command: node a.js\n  processes: 2\n  alarm-cheap: true\n  on-demand-mode: 0660\n  env:\n    - A=1\n    - B=2\n  logto:\n';
    assert.deepEqual(pairs(text, 'yaml'), [
      ['command', 'node a.js', 2],
      ['processes', '2', 3],
      ['alarm-cheap', 'true', 4],
      ['on-demand-mode', '0660', 5],
      ['env', 'A=1', 7],
      ['env', 'B=2', 8],
      ['logto', '', 9],
    ]);
  });

  it('reads flow lists and picks uwsgi when there is no vassal key', () => {
    const raw = parse('other: 1\nuwsgi:\n  socket: [":80", ":81"]\n', 'yaml');
    assert.equal(raw.section, 'uwsgi');
    assert.deepEqual(raw.entries.map((e) => [e.key, e.value, e.line]), [
      ['socket', ':80', 3],
      ['socket', ':81', 3],
    ]);
  });

  it('reports syntax errors with their line', () => {
    refuses(() => parse('vassal:\n  command: a\n  env: [A=1\n', 'yaml'), { code: ErrorCodes.CONFIG_PARSE, file: 'v.yaml', line: 4, message: /^invalid YAML: / });
    refuses(() => parse('vassal:\n  command: a\n  command: b\n', 'yaml'), { code: ErrorCodes.CONFIG_PARSE, line: 3, message: 'invalid YAML: duplicated mapping key' });
  });

  it('refuses nested mappings and lists of lists, naming the key and its line', () => {
    refuses(() => parse('vassal:\n  command: a\n  env:\n    A: 1\n', 'yaml'), {
      code: ErrorCodes.CONFIG_INVALID,
      key: 'env',
      line: 3,
      message: 'env: expected a value or a list of values, got a mapping',
    });
    refuses(() => parse('vassal:\n  alarm:\n    - a log:x\n    - [b, c]\n', 'yaml'), {
      code: ErrorCodes.CONFIG_INVALID,
      key: 'alarm',
      line: 4,
      message: 'alarm: expected a value or a list of values, got a list inside the list',
    });
  });

  it('refuses a document that is not a mapping, and a section that is not one', () => {
    refuses(() => parse('- a\n- b\n', 'yaml'), { code: ErrorCodes.CONFIG_INVALID, message: /got a list/ });
    refuses(() => parse('vassal: node a.js\n', 'yaml'), { code: ErrorCodes.CONFIG_INVALID, key: 'vassal', message: 'vassal: expected a mapping of keys to values, got string' });
    refuses(() => parse('app:\n  command: a\n', 'yaml'), { code: ErrorCodes.CONFIG_INVALID, message: "expected a 'vassal' top-level key (or 'uwsgi' for a uWSGI instance), found 'app'" });
  });

  it('merges YAML merge keys, the section winning over what it merges', () => {
    const text = 'defaults: &defaults\n  processes: 2\n  env: [A=1]\nvassal:\n  <<: *defaults\n  command: a\n  processes: 3\n';
    assert.deepEqual(pairs(text, 'yaml'), [
      ['processes', '3', 7],
      ['env', 'A=1', undefined],
      ['command', 'a', 6],
    ]);
  });

  it('treats an empty section as no keys', () => {
    assert.deepEqual(parse('vassal:\n', 'yaml').entries, []);
  });
});

describe('json', () => {
  it('stringifies scalars and repeats list items, with lines', () => {
    const text = '{\n  "vassal": {\n    "command": "node a.js",\n    "processes": 2,\n    "alarm-cheap": true,\n    "env": [\n      "A=1",\n      "B=2"\n    ],\n    "logto": null\n  }\n}\n';
    assert.deepEqual(pairs(text, 'json'), [
      ['command', 'node a.js', 3],
      ['processes', '2', 4],
      ['alarm-cheap', 'true', 5],
      ['env', 'A=1', 7],
      ['env', 'B=2', 8],
      ['logto', '', 10],
    ]);
  });

  it('reports syntax errors with their line', () => {
    refuses(() => parse('{\n  "vassal": {\n    "command": "a",\n  }\n}\n', 'json'), { code: ErrorCodes.CONFIG_PARSE, file: 'v.json', line: 4, message: /^invalid JSON: / });
  });

  it('refuses nested objects by key', () => {
    refuses(() => parse('{"vassal": {"command": "a",\n "env": {"A": "1"}}}', 'json'), { code: ErrorCodes.CONFIG_INVALID, key: 'env', line: 2, message: 'env: expected a value or a list of values, got a mapping' });
  });

  it('refuses a top level that is not an object', () => {
    refuses(() => parse('["vassal"]', 'json'), { code: ErrorCodes.CONFIG_INVALID, message: /top-level "vassal" key, got a list/ });
  });
});

describe('xml', () => {
  it('reads children in order, repeated elements as repeated keys and empty elements as flags', () => {
    const text = '<?xml version="1.0"?>\n<!-- c -->\n<vassal>\n  <command>node a.js &amp;&amp; b</command>\n  <alarm-cheap/>\n  <env>A=1</env>\n  <processes>2</processes>\n  <env>B=2</env>\n  <log-alarm><![CDATA[m ^<a>]]></log-alarm>\n</vassal>\n';
    assert.deepEqual(pairs(text, 'xml'), [
      ['command', 'node a.js && b', 4],
      ['alarm-cheap', 'true', 5],
      ['env', 'A=1', 6],
      ['processes', '2', 7],
      ['env', 'B=2', 8],
      ['log-alarm', 'm ^<a>', 9],
    ]);
  });

  it('picks <uwsgi> when there is no <vassal>', () => {
    assert.equal(parse('<uwsgi><socket>:80</socket></uwsgi>', 'xml').section, 'uwsgi');
  });

  it('reports syntax errors with their line', () => {
    refuses(() => parse('<vassal>\n<command>a</command>\n<env>A=1</vassal>\n', 'xml'), { code: ErrorCodes.CONFIG_PARSE, file: 'v.xml', line: 3, message: /^invalid XML: .*closing tag/ });
    refuses(() => parse('garbage', 'xml'), { code: ErrorCodes.CONFIG_PARSE, line: 1, message: /^invalid XML/ });
  });

  it('refuses nested elements by key, and loose text', () => {
    refuses(() => parse('<vassal>\n<command>a</command>\n<env><name>A</name></env>\n</vassal>', 'xml'), {
      code: ErrorCodes.CONFIG_INVALID,
      key: 'env',
      line: 3,
      message: 'env: expected a value, got nested elements (<name>)',
    });
    refuses(() => parse('<vassal>stray<command>a</command></vassal>', 'xml'), { code: ErrorCodes.CONFIG_INVALID, message: "<vassal>: expected only elements inside, got text 'stray'" });
  });

  it('refuses a DOCTYPE, so entity bombs cannot be declared', () => {
    const bomb = '<?xml version="1.0"?>\n<!DOCTYPE v [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<vassal><command>&b;</command></vassal>';
    refuses(() => parse(bomb, 'xml'), { code: ErrorCodes.CONFIG_PARSE, line: 2, message: 'invalid XML: a DOCTYPE is not allowed in a vassal config' });
  });
});

describe('choosing a format', () => {
  it('goes by extension as uWSGI does, .js being JSON', () => {
    assert.equal(detectFormat('app.ini', []), 'ini');
    assert.equal(detectFormat('/etc/vassals/app.yml', []), 'yaml');
    assert.equal(detectFormat('app.yaml', []), 'yaml');
    assert.equal(detectFormat('app.json', []), 'json');
    assert.equal(detectFormat('app.js', []), 'json');
    assert.equal(detectFormat('app.xml', []), 'xml');
    assert.equal(detectFormat('app.skel', []), undefined);
    assert.equal(detectFormat('.ini', []), undefined);
    assert.equal(detectFormat('app.conf', ['.conf']), undefined, 'an extra extension is sniffed, not implied');
    assert.equal(detectFormat('app.local.ini', ['.local.ini']), undefined, 'the longest matching extension decides');
  });

  it('knows which names are configs, extra extensions included', () => {
    assert.equal(isConfigName('app.ini', []), true);
    assert.equal(isConfigName('app.conf', []), false);
    assert.equal(isConfigName('app.conf', ['conf']), true);
    assert.equal(isConfigName('app.conf', ['.conf']), true);
    assert.equal(isConfigName('.conf', ['.conf']), false);
  });

  it('sniffs the text of an extra extension', () => {
    assert.equal(sniffFormat('<vassal/>'), 'xml');
    assert.equal(sniffFormat('\ufeff  {"vassal": {}}'), 'json');
    assert.equal(sniffFormat('# comment\n\n[vassal]\ncommand = a'), 'ini');
    assert.equal(sniffFormat('; comment\ncommand = a'), 'ini');
    assert.equal(sniffFormat('command = node a.js --x=y:z'), 'ini');
    assert.equal(sniffFormat('# comment\nvassal:\n  command: a'), 'yaml');
    assert.equal(sniffFormat('vassal:\n  command: a --x=1'), 'yaml');
    assert.equal(sniffFormat(''), 'ini');
  });
});

describe('the same vassal in every format', () => {
  const load = (file: string) => {
    const loaded = loadVassalConfig({ text: fixture(file), format: detectFormat(file, [])!, path: join(FIXTURES, file) }, { ...baseOptions, name: file });
    assert.equal(loaded.kind, 'vassal');
    const { entries, alarms, logAlarms, ...rest } = loaded.config as Extract<typeof loaded, { kind: 'vassal' }>['config'];
    // Lines differ between formats; everything else must not.
    return {
      ...rest,
      entries: entries.map(({ key, value }) => ({ key, value })),
      alarms: alarms.map(({ line: _line, ...a }) => a),
      logAlarms: logAlarms.map(({ line: _line, ...r }) => r),
    };
  };

  it('loads ini, yaml, json and xml to equal configs', () => {
    const ini = load('app.ini');
    assert.deepEqual(ini.command, ['node', 'server.js', '--port', '3031', '--name', 'app on web1']);
    assert.deepEqual(ini.logAlarms, [
      { alarms: ['mail', 'mem'], pattern: '^FATAL', negate: false },
      { alarms: ['mail'], pattern: '^FATAL: expected', negate: true },
      { alarms: ['mem'], pattern: 'OOM', negate: false },
    ]);
    assert.equal(ini.alarms[1]!.args, 'app above 100MB # not a comment');
    assert.deepEqual(load('app.yaml'), ini);
    assert.deepEqual(load('app.json'), ini);
    assert.deepEqual(load('app.xml'), ini);
  });
});
