-- Emperor: NOTIFY channel "emperor_vassals" whenever vassals changes, so a pg:// monitor
-- re-reads at once instead of at its next poll. Safe to run again.
BEGIN;

CREATE OR REPLACE FUNCTION emperor_notify() RETURNS trigger
LANGUAGE plpgsql AS $emperor$
BEGIN
  -- The channel is the trigger's argument; the payload names the operation.
  PERFORM pg_notify(TG_ARGV[0], TG_OP);
  RETURN NULL;
END
$emperor$;

DROP TRIGGER IF EXISTS "emperor_notify_emperor_vassals" ON "vassals";
CREATE TRIGGER "emperor_notify_emperor_vassals"
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "vassals"
  FOR EACH STATEMENT EXECUTE FUNCTION emperor_notify('emperor_vassals');

COMMIT;
