"""Partial indexes for the possible-duplicate candidate lookup (revenue.duplicates)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("revenue", "0011_payout_settlements"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="revenueevent",
            index=models.Index(
                django.db.models.functions.text.Lower("customer_email"),
                "amount_cents",
                "currency",
                "occurred_at",
                condition=models.Q(("kind", "payment")),
                name="revenue_ev_dup_email",
            ),
        ),
        migrations.AddIndex(
            model_name="revenueevent",
            index=models.Index(
                "customer_id",
                "amount_cents",
                "currency",
                "occurred_at",
                condition=models.Q(("kind", "payment")),
                name="revenue_ev_dup_customer",
            ),
        ),
    ]
