"""Default account mappings for every entity and currency: placeholders an accountant edits in the
admin to match their chart of accounts (QuickBooks Online account names, Xero account codes)."""

from django.db import migrations

DEFAULTS = [
    ("payments", "Sales", "200"),
    ("refunds", "Sales Refunds", "210"),
    ("disputes", "Chargebacks", "215"),
    ("disputes_won", "Chargebacks", "215"),
    ("fees", "Merchant Account Fees", "404"),
    ("adjustments", "Sales Adjustments", "220"),
    ("clearing_stripe", "Stripe Clearing", "801"),
    ("clearing_gumroad", "Gumroad Clearing", "802"),
    ("clearing_manual", "Undeposited Funds", "803"),
]


def seed(apps, schema_editor):
    AccountMapping = apps.get_model("accounting", "AccountMapping")
    for role, name, code in DEFAULTS:
        AccountMapping.objects.get_or_create(
            role=role, entity=None, currency="", defaults={"account_name": name, "account_code": code}
        )


def unseed(apps, schema_editor):
    AccountMapping = apps.get_model("accounting", "AccountMapping")
    AccountMapping.objects.filter(entity=None, currency="", role__in=[role for role, _, _ in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("accounting", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
