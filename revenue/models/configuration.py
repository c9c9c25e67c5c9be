"""Configuration: the legal entities money is booked to and the reporting-currency rates.

Both keep a full change history (who, when, before/after) via django-simple-history.
"""

from django.db import models
from django.db.models import Q
from simple_history import register as simple_history_register


class Entity(models.Model):
    """A legal entity that receives money (A+ Enterprise LLC, Legacy Unchained Inc)."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    is_default = models.BooleanField(
        default=False, help_text="Events with no entity hint are booked here. Exactly one entity is the default."
    )
    stripe_account_ids = models.JSONField(
        default=list, blank=True, help_text="Stripe Connect account ids (acct_…) whose events belong here."
    )
    gumroad_product_ids = models.JSONField(
        default=list, blank=True, help_text="Gumroad product ids / permalinks whose sales belong here."
    )
    aliases = models.JSONField(default=list, blank=True, help_text="Other names used in metadata and CSV files.")
    lock_date = models.DateField(
        null=True,
        blank=True,
        help_text="Books are closed through this business date: no row may take an effective date on or before it.",
    )
    lock_date_set_by = models.CharField(max_length=150, blank=True, default="", editable=False)
    lock_date_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "entities"
        ordering = ["name"]
        permissions = [("change_lock_date", "Can set or move an entity's lock date")]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="revenue_entity_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExchangeRate(models.Model):
    """Reporting-currency rate for a currency on a day, with where it came from."""

    currency = models.CharField(max_length=3)
    rate_on = models.DateField()
    usd_per_unit = models.DecimalField(max_digits=20, decimal_places=10)
    source = models.CharField(max_length=100, default="manual")

    class Meta:
        ordering = ["currency", "-rate_on"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "rate_on"], name="revenue_exchangerate_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.usd_per_unit} USD on {self.rate_on}"


simple_history_register(Entity, app="revenue", excluded_fields=["created_at"])
simple_history_register(ExchangeRate, app="revenue")
