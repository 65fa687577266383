import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEmperorError } from '../../../src/errors.js';
import { parseConninfo } from '../../../plugins/pg/conninfo.js';
import { DEFAULT_QUERY, parsePgArgument, substituteNodeName } from '../../../plugins/pg/argument.js';
import { DEFAULT_CHANNEL, DEFAULT_STATEMENT_TIMEOUT_MS } from '../../../plugins/pg/connection.js';

test('conninfo: libpq quoting, escapes and spaces around =', () => {
  const info = parseConninfo(`host = 127.0.0.1 dbname='my db' password='it\\'s;here' user=a\\ b`);
  assert.deepEqual(info.entries.map((e) => [e.key, e.value]), [
    ['host', '127.0.0.1'],
    ['dbname', 'my db'],
    ['password', "it's;here"],
    ['user', 'a b'],
  ]);
});

test('conninfo: the query starts at the first ; outside a quoted value', async () => {
  const t = parsePgArgument(`pg://host=h password='a;b' dbname=x;SELECT name,config,ts FROM v WHERE c = ';'`, 'n');
  assert.equal(t.query, `SELECT name,config,ts FROM v WHERE c = ';'`);
  const cfg = await t.clientConfig();
  assert.equal(cfg.password, 'a;b');
  assert.equal(cfg.database, 'x');
  assert.equal(cfg.host, 'h');
});

test('conninfo: malformed text is refused with the reason', () => {
  for (const [arg, re] of [
    ['pg://host', /expected "=" after "host"/],
    [`pg://password='open`, /unterminated quoted value for "password"/],
    ['pg://=x', /missing keyword/],
    ['pg://host=h sslmode=prefer', /sslmode=prefer/],
    ['pg://host=h keepalives=1', /unsupported connection keyword "keepalives"/],
    ['pg://port=99999', /port must be 1 to 65535/],
    ['pg://statement_timeout=soon', /statement_timeout must be milliseconds/],
    ['mongodb://x', /expected pg:\/\/CONNECTION\[;QUERY\] or postgres:\/\/URL/],
  ] as const) {
    assert.throws(() => parsePgArgument(arg, 'n'), (err: unknown) => isEmperorError(err, 'EMP_ERR_USAGE') && re.test(err.message), arg);
  }
});

test('defaults: uWSGI query, channel emperor_vassals, 10 s statement timeout', async () => {
  const t = parsePgArgument('pg://host=127.0.0.1 dbname=emperor', 'n');
  assert.equal(t.query, DEFAULT_QUERY);
  assert.equal(t.channel, DEFAULT_CHANNEL);
  assert.equal(t.statementTimeoutMs, DEFAULT_STATEMENT_TIMEOUT_MS);
  const cfg = await t.clientConfig();
  assert.equal(cfg.statement_timeout, 10_000);
  assert.equal(cfg.application_name, 'emperor');
  assert.equal(t.id, 'pg://host=127.0.0.1 dbname=emperor');
  assert.equal(parsePgArgument('pg://host=h;  ', 'n').query, DEFAULT_QUERY);
});

test('monitor keys are taken out of the conninfo: channel, statement_timeout', async () => {
  const t = parsePgArgument(`pg://host=h channel=fleet_a statement_timeout=5s dbname=d;SELECT 1,2,3`, 'n');
  assert.equal(t.channel, 'fleet_a');
  assert.equal(t.statementTimeoutMs, 5000);
  const cfg = await t.clientConfig() as Record<string, unknown>;
  assert.equal(cfg.channel, undefined);
  assert.equal(cfg.statement_timeout, 5000);
  assert.equal(parsePgArgument(`pg://host=h channel=''`, 'n').channel, undefined);
  assert.equal(parsePgArgument(`pg://host=h statement_timeout=0`, 'n').statementTimeoutMs, 0);
});

test('URL form: monitor parameters are stripped before connecting', async () => {
  const t = parsePgArgument('pg://postgresql://me@db.example:5433/emperor?channel=c1&sslmode=disable&statement_timeout=750ms;SELECT a,b,c FROM t', 'n');
  assert.equal(t.channel, 'c1');
  assert.equal(t.statementTimeoutMs, 750);
  assert.equal(t.query, 'SELECT a,b,c FROM t');
  const cfg = await t.clientConfig();
  assert.equal(cfg.connectionString, 'postgresql://me@db.example:5433/emperor?sslmode=disable');
});

test('a bare postgres:// URL is a pg:// argument', async () => {
  const t = parsePgArgument('postgresql://me:pw@h/db?channel=c;SELECT a,b,c FROM t', 'n');
  assert.equal(t.id, 'postgresql://me:***@h/db?channel=c;SELECT a,b,c FROM t');
  assert.equal(t.query, 'SELECT a,b,c FROM t');
  assert.equal(t.channel, 'c');
  assert.equal((await t.clientConfig()).connectionString, 'postgresql://me:pw@h/db');
  assert.equal(parsePgArgument('PG://host=h', 'n').id, 'PG://host=h');
});

test('the monitor id masks passwords, in both forms', () => {
  assert.equal(
    parsePgArgument(`pg://host=h user=me password='s3 cr;et' dbname=x;SELECT 1`, 'n').id,
    'pg://host=h user=me password=*** dbname=x;SELECT 1',
  );
  assert.equal(parsePgArgument('pg://host=h password=plain', 'n').id, 'pg://host=h password=***');
  assert.equal(
    parsePgArgument('pg://postgres://me:s3cret@h:5432/x?password=other&channel=c;SELECT 1', 'n').id,
    'pg://postgres://me:***@h:5432/x?password=***&channel=c;SELECT 1',
  );
  assert.equal(parsePgArgument('pg://postgres://me@h/x', 'n').id, 'pg://postgres://me@h/x');
});

test('%h becomes the node name as a safe SQL literal', () => {
  assert.equal(substituteNodeName('SELECT * FROM v WHERE node = %h', 'web1'), `SELECT * FROM v WHERE node = 'web1'`);
  assert.equal(substituteNodeName(`SELECT * FROM v WHERE node = '%h'`, 'web1'), `SELECT * FROM v WHERE node = 'web1'`);
  assert.equal(substituteNodeName(`WHERE node = %h`, `x'; DROP TABLE v; --`), `WHERE node = 'x''; DROP TABLE v; --'`);
  // A backslash makes it an E'' string with the backslash doubled.
  assert.equal(substituteNodeName('WHERE node = %h', 'a\\b'), "WHERE node =  E'a\\\\b'");
  assert.equal(substituteNodeName(`WHERE name LIKE '%%host%'`, 'web1'), `WHERE name LIKE '%host%'`);
  assert.equal(parsePgArgument('pg://host=h;SELECT name,config,ts FROM v WHERE node=%h', 'n1').query, `SELECT name,config,ts FROM v WHERE node='n1'`);
});
