"""The dashboard's filters (entity, range, currency), validated once for the page and every endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django import forms
from django.conf import settings

from revenue.business_time import business_today
from revenue.models import Entity
from revenue.money import CurrencyError, normalize_currency
from revenue.selectors import range_first_day

RANGE_CHOICES = [(30, "Last 30 days"), (90, "Last 90 days"), (365, "Last 365 days")]
DEFAULT_RANGE_DAYS = 90


@dataclass(frozen=True)
class DashboardFilters:
    entity: Entity | None
    range_days: int
    currency: str
    today: date

    @property
    def first_day(self) -> date:
        return range_first_day(self.today, self.range_days)

    def as_query(self) -> dict[str, str]:
        query = {"range": str(self.range_days), "currency": self.currency}
        if self.entity is not None:
            query["entity"] = self.entity.slug
        return query


class DashboardFilterForm(forms.Form):
    entity = forms.ChoiceField(required=False, label="Entity")
    range = forms.TypedChoiceField(
        choices=RANGE_CHOICES, coerce=int, required=False, empty_value=DEFAULT_RANGE_DAYS, label="Range"
    )
    currency = forms.CharField(required=False, max_length=3, label="Currency")

    def __init__(self, *args, entities: list[Entity], currencies: list[str] | None = None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        # Validated against the list the caller already loaded: no extra query.
        self._entities = {entity.slug: entity for entity in entities}
        self.fields["entity"].choices = [("", "All entities")] + [(e.slug, e.name) for e in entities]
        if currencies is not None:
            self.fields["currency"].widget = forms.Select(choices=[(c, c) for c in currencies])

    def clean_entity(self) -> Entity | None:
        slug = self.cleaned_data["entity"]
        return self._entities[slug] if slug else None

    def clean_currency(self) -> str:
        value = self.cleaned_data["currency"] or settings.REPORTING_CURRENCY
        try:
            return normalize_currency(value)
        except CurrencyError as exc:
            raise forms.ValidationError(str(exc), code="invalid_currency") from exc

    def filters(self) -> DashboardFilters:
        return DashboardFilters(
            entity=self.cleaned_data["entity"],
            range_days=self.cleaned_data["range"],
            currency=self.cleaned_data["currency"],
            today=business_today(),
        )

    def error_message(self) -> str:
        return "; ".join(
            f"{field}: {' '.join(str(message) for message in messages)}" for field, messages in self.errors.items()
        )

    @classmethod
    def defaults(cls) -> DashboardFilters:
        return DashboardFilters(
            entity=None, range_days=DEFAULT_RANGE_DAYS, currency=settings.REPORTING_CURRENCY, today=business_today()
        )
