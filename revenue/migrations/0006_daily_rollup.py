"""revenue_daily_rollup: per UTC day, entity, provider, currency and kind, kept by triggers.

The triggers run in the statement that writes `revenue_events`, so no write path
(services, bulk import, COPY, raw SQL, a SAFE_MODE-off update or delete, TRUNCATE)
can leave the rollup behind. PostgreSQL: statement-level triggers over transition
tables, one grouped upsert per statement (a 100,000-row import is one statement), keys
upserted in a fixed order so two writers lock rollup rows in the same order.
SQLite (zero-setup run): row-level triggers. The migration fills the rollup from the
rows already there, with the ledger locked against writes meanwhile.
"""

import django.db.models.deletion
from django.db import migrations, models

KEY = "occurred_on_utc, entity_id, provider, currency, kind"
COLUMNS = f"{KEY}, credit_cents, debit_cents, event_count"
ADD = """credit_cents = revenue_daily_rollup.credit_cents + EXCLUDED.credit_cents,
            debit_cents = revenue_daily_rollup.debit_cents + EXCLUDED.debit_cents,
            event_count = revenue_daily_rollup.event_count + EXCLUDED.event_count"""


def _pg_upsert(source: str, sign: str) -> str:
    return f"""
        INSERT INTO revenue_daily_rollup ({COLUMNS})
        SELECT (occurred_at AT TIME ZONE 'UTC')::date, entity_id, provider, currency, kind,
               {sign}coalesce(sum(amount_cents) FILTER (WHERE amount_cents > 0), 0),
               {sign}coalesce(sum(amount_cents) FILTER (WHERE amount_cents < 0), 0),
               {sign}count(*)
        FROM {source} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT ({KEY}) DO UPDATE SET
            {ADD};"""


PG_CREATE = f"""
CREATE OR REPLACE FUNCTION revenue_daily_rollup_insert() RETURNS trigger AS $$
BEGIN{_pg_upsert("new_rows", "")}
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION revenue_daily_rollup_delete() RETURNS trigger AS $$
BEGIN{_pg_upsert("old_rows", "-")}
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION revenue_daily_rollup_update() RETURNS trigger AS $$
BEGIN{_pg_upsert("old_rows", "-")}{_pg_upsert("new_rows", "")}
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION revenue_daily_rollup_truncate() RETURNS trigger AS $$
BEGIN
    DELETE FROM revenue_daily_rollup;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

LOCK TABLE revenue_events IN SHARE ROW EXCLUSIVE MODE;
CREATE TRIGGER revenue_daily_rollup_insert AFTER INSERT ON revenue_events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_daily_rollup_insert();
CREATE TRIGGER revenue_daily_rollup_delete AFTER DELETE ON revenue_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_daily_rollup_delete();
CREATE TRIGGER revenue_daily_rollup_update AFTER UPDATE ON revenue_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION revenue_daily_rollup_update();
CREATE TRIGGER revenue_daily_rollup_truncate AFTER TRUNCATE ON revenue_events
    FOR EACH STATEMENT EXECUTE FUNCTION revenue_daily_rollup_truncate();
"""
# Also run by the rollup tests: the backfill must agree with what the triggers maintain.
PG_BACKFILL = f"DELETE FROM revenue_daily_rollup;{_pg_upsert('revenue_events', '')}"

PG_DROP = """
DROP TRIGGER IF EXISTS revenue_daily_rollup_insert ON revenue_events;
DROP TRIGGER IF EXISTS revenue_daily_rollup_delete ON revenue_events;
DROP TRIGGER IF EXISTS revenue_daily_rollup_update ON revenue_events;
DROP TRIGGER IF EXISTS revenue_daily_rollup_truncate ON revenue_events;
DROP FUNCTION IF EXISTS revenue_daily_rollup_insert();
DROP FUNCTION IF EXISTS revenue_daily_rollup_delete();
DROP FUNCTION IF EXISTS revenue_daily_rollup_update();
DROP FUNCTION IF EXISTS revenue_daily_rollup_truncate();
"""


def _sqlite_upsert(row: str, sign: str) -> str:
    # Django keeps SQLite datetimes as UTC text, so date() is the UTC date.
    return f"""
    INSERT INTO revenue_daily_rollup ({COLUMNS})
    VALUES (date({row}.occurred_at), {row}.entity_id, {row}.provider, {row}.currency, {row}.kind,
            {sign}max({row}.amount_cents, 0), {sign}min({row}.amount_cents, 0), {sign}1)
    ON CONFLICT ({KEY}) DO UPDATE SET
        {ADD};"""


SQLITE_CREATE = [
    f"CREATE TRIGGER revenue_daily_rollup_insert AFTER INSERT ON revenue_events BEGIN{_sqlite_upsert('NEW', '')}\nEND",
    f"CREATE TRIGGER revenue_daily_rollup_delete AFTER DELETE ON revenue_events BEGIN{_sqlite_upsert('OLD', '-')}\nEND",
    f"CREATE TRIGGER revenue_daily_rollup_update AFTER UPDATE ON revenue_events BEGIN"
    f"{_sqlite_upsert('OLD', '-')}{_sqlite_upsert('NEW', '')}\nEND",
]
SQLITE_BACKFILL = [
    "DELETE FROM revenue_daily_rollup",
    f"""INSERT INTO revenue_daily_rollup ({COLUMNS})
    SELECT date(occurred_at), entity_id, provider, currency, kind,
           sum(max(amount_cents, 0)), sum(min(amount_cents, 0)), count(*)
    FROM revenue_events GROUP BY 1, 2, 3, 4, 5""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS revenue_daily_rollup_insert",
    "DROP TRIGGER IF EXISTS revenue_daily_rollup_delete",
    "DROP TRIGGER IF EXISTS revenue_daily_rollup_update",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_CREATE + PG_BACKFILL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE + SQLITE_BACKFILL:
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0005_merge_20261125_1916")]

    operations = [
        migrations.CreateModel(
            name="RevenueDailyRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("occurred_on_utc", models.DateField(help_text="UTC calendar date of occurred_at.")),
                ("provider", models.CharField(max_length=16)),
                ("currency", models.CharField(max_length=3)),
                ("kind", models.CharField(max_length=20)),
                ("credit_cents", models.BigIntegerField(default=0, help_text="Sum of the positive rows.")),
                ("debit_cents", models.BigIntegerField(default=0, help_text="Sum of the negative rows (<= 0).")),
                ("event_count", models.BigIntegerField(default=0)),
                (
                    "entity",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="revenue.entity"
                    ),
                ),
            ],
            options={
                "db_table": "revenue_daily_rollup",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("occurred_on_utc", "entity", "provider", "currency", "kind"),
                        name="revenue_revenuedailyrollup_one_per_key",
                    )
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
