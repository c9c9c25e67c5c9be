"""A stored forecast of daily net revenue for one entity and currency, as fitted on one night."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import models
from django.db.models.functions import Upper


class RevenueForecast(models.Model):
    """Daily net revenue (revenue's buckets: net = every ledger row) forecast from the day after
    `last_actual_day`, with 80% and 95% daily bounds and simulated month / quarter sums.

    Amounts are integer minor units of `currency`; the lists are aligned day by day from
    `first_forecast_day`. With too little history the row says so (status) and holds no line.
    """

    class Status(models.TextChoices):
        OK = "ok", "Forecast"
        NOT_ENOUGH_HISTORY = "not_enough_history", "Not enough history"
        FAILED = "failed", "Fit failed"  # the error is in parameters["error"]; the next night tries again

    entity = models.ForeignKey("revenue.Entity", on_delete=models.PROTECT, related_name="forecasts")
    currency = models.CharField(max_length=3)
    last_actual_day = models.DateField(
        help_text="Last business day of the fit window; the forecast starts the next day."
    )
    status = models.CharField(max_length=24, choices=Status.choices)
    history_days = models.PositiveIntegerField(help_text="Business days from the first ledger row to last_actual_day.")
    model_name = models.CharField(max_length=64, blank=True, default="")
    fit_first_day = models.DateField(null=True, blank=True, help_text="First business day of the fit window.")
    parameters = models.JSONField(default=dict, blank=True)
    generated_at = models.DateTimeField()
    mean_cents = models.JSONField(default=list, blank=True)
    lower80_cents = models.JSONField(default=list, blank=True)
    upper80_cents = models.JSONField(default=list, blank=True)
    lower95_cents = models.JSONField(default=list, blank=True)
    upper95_cents = models.JSONField(default=list, blank=True)
    # Simulated sums from each forecast day to the end of a month / quarter (engine.PeriodTail.as_json).
    period_tails = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-last_actual_day", "entity_id", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "currency", "last_actual_day"], name="%(app_label)s_%(class)s_one_per_night"
            ),
            models.CheckConstraint(
                condition=models.Q(currency=Upper("currency")), name="%(app_label)s_%(class)s_currency_upper"
            ),
        ]
        indexes = [models.Index(fields=["last_actual_day"], name="forecasts_last_day_idx")]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.currency} through {self.last_actual_day} ({self.status})"

    @property
    def first_forecast_day(self) -> date:
        return self.last_actual_day + timedelta(days=1)

    @property
    def is_ok(self) -> bool:
        return self.status == self.Status.OK

    def day_index(self, day: date) -> int | None:
        """Position of `day` in the stored lists, or None when it is not forecast here."""
        index = (day - self.first_forecast_day).days
        return index if 0 <= index < len(self.mean_cents) else None
