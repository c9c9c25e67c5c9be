"""A CHECK on revenue_events.occurred_at (1970 .. 2200), the last line of defence behind
the service's time window. Added NOT VALID: PostgreSQL enforces it for every new row
without scanning (or refusing) rows already stored; readers survive those (revenue.db_types)."""

import datetime

from django.db import migrations, models

NAME = "revenue_revenueevent_occurred_at_sane"
CONSTRAINT = models.CheckConstraint(
    condition=models.Q(
        ("occurred_at__gte", datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.UTC)),
        ("occurred_at__lt", datetime.datetime(2200, 1, 1, 0, 0, tzinfo=datetime.UTC)),
    ),
    name=NAME,
)
CONDITION = "occurred_at >= '1970-01-01T00:00:00+00:00' AND occurred_at < '2200-01-01T00:00:00+00:00'"


def add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE revenue_events ADD CONSTRAINT {NAME} CHECK ({CONDITION}) NOT VALID")
    else:
        schema_editor.add_constraint(apps.get_model("revenue", "RevenueEvent"), CONSTRAINT)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE revenue_events DROP CONSTRAINT IF EXISTS {NAME}")
    else:
        schema_editor.remove_constraint(apps.get_model("revenue", "RevenueEvent"), CONSTRAINT)


class Migration(migrations.Migration):
    dependencies = [("revenue", "0006_daily_rollup")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddConstraint(model_name="revenueevent", constraint=CONSTRAINT),
            ],
            database_operations=[migrations.RunPython(add, remove)],
        ),
    ]
