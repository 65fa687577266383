import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { isEmperorError } from '../../../src/errors.js';
import { pgSetupSql } from '../../../plugins/pg/setup.js';

test('plugins/pg/emperor-notify.sql is the setup for table vassals, channel emperor_vassals', async () => {
  const file = await readFile(new URL('../../../plugins/pg/emperor-notify.sql', import.meta.url), 'utf8');
  assert.equal(file, pgSetupSql({ table: 'vassals', channel: 'emperor_vassals' }));
});

test('the setup SQL: a statement-level trigger for every kind of change, names quoted', () => {
  const sql = pgSetupSql({ table: 'fleet.Vassals', channel: `it's` });
  assert.match(sql, /CREATE OR REPLACE FUNCTION emperor_notify\(\) RETURNS trigger/);
  assert.match(sql, /PERFORM pg_notify\(TG_ARGV\[0\], TG_OP\)/);
  assert.match(sql, /DROP TRIGGER IF EXISTS "emperor_notify_it's" ON "fleet"."Vassals";/);
  assert.match(sql, /AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "fleet"."Vassals"\n\s+FOR EACH STATEMENT EXECUTE FUNCTION emperor_notify\('it''s'\);/);
  assert.throws(() => pgSetupSql({ table: 'a.b.c', channel: 'c' }), (e: unknown) => isEmperorError(e, 'EMP_ERR_USAGE') && /SCHEMA.NAME/.test(e.message));
  assert.throws(() => pgSetupSql({ table: 'v', channel: '' }), /channel must be 1 to 63 bytes/);
});
