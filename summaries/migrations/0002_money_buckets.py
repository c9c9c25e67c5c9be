"""The digest's money columns become the money buckets (issue 16): gross_cents is renamed
payments_cents, disputes won back get their own column (disputes_cents keeps lost disputes
only), and a flag says when Gumroad fees are not known yet. Existing rows keep their old
figures until recomputed (`manage.py compute_summaries`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("summaries", "0001_initial")]

    operations = [
        migrations.RenameField("revenuesummary", "gross_cents", "payments_cents"),
        migrations.AlterField(
            "revenuesummary", "payments_cents", models.BigIntegerField(default=0, help_text="Payments.")
        ),
        migrations.AlterField(
            "revenuesummary",
            "disputes_cents",
            models.BigIntegerField(default=0, help_text="Money lost to disputes (negative)."),
        ),
        migrations.AddField(
            "revenuesummary",
            "disputes_won_cents",
            models.BigIntegerField(default=0, help_text="Disputed money given back (positive)."),
        ),
        migrations.AlterField(
            "revenuesummary",
            "fees_cents",
            models.BigIntegerField(default=0, help_text="Processor fees, when known (negative)."),
        ),
        migrations.AddField(
            "revenuesummary",
            "gumroad_fees_unknown",
            models.BooleanField(
                default=False, help_text="A Gumroad sale in the period has no fee row yet: fees_cents leaves it out."
            ),
        ),
        migrations.AlterField(
            "revenuesummary",
            "average_transaction_cents",
            models.BigIntegerField(
                blank=True, null=True, help_text="Payments / number of payments, in the reporting currency."
            ),
        ),
    ]
