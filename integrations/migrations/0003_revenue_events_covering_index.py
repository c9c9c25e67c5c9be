"""A covering index for the Atlas totals and trends: index-only scans over a date range.

revenue_events belongs to the revenue app; this index serves the API, so it lives
here, created idempotently (IF NOT EXISTS).
"""

from django.db import migrations

CREATE = """
CREATE INDEX IF NOT EXISTS integrations_rev_ev_occurred_cover
    ON revenue_events (occurred_at) INCLUDE (entity_id, provider, currency, kind, amount_cents)
"""
DROP = "DROP INDEX IF EXISTS integrations_rev_ev_occurred_cover"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_api_keys_subscriptions"), ("revenue", "0003_append_only_guard")]
    operations = [migrations.RunPython(forwards, backwards)]
