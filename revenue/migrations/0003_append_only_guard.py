"""The database refuses UPDATE and DELETE on ledger rows.

A session may lift the guard only by `SET branchberg.ledger_writable = 'on'`,
which the app does per connection when SAFE_MODE is off. TRUNCATE (test
teardown) is not a row operation and is not affected.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION revenue_events_append_only() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('branchberg.ledger_writable', true), '') = 'on' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'revenue_events is append-only (SAFE_MODE): % refused; record a reversal instead', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS revenue_events_append_only ON revenue_events;
CREATE TRIGGER revenue_events_append_only BEFORE UPDATE OR DELETE ON revenue_events
    FOR EACH ROW EXECUTE FUNCTION revenue_events_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS revenue_events_append_only ON revenue_events;
DROP FUNCTION IF EXISTS revenue_events_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0002_seed_entities")]
    operations = [migrations.RunPython(forwards, backwards)]
