"""Explicit input (query/body) and output serializers, one pair per operation."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime

from django.utils import timezone
from rest_framework import serializers

from revenue.business_time import business_date_of
from revenue.models import RevenueEvent
from revenue.money import from_minor_units
from revenue.periods import Cadence

from ..models import WebhookSubscription

EARLIEST = date(1970, 1, 2)
LATEST = date(2999, 12, 30)
MAX_TREND_POINTS = 1000


def _check_date_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise serializers.ValidationError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _check_datetime_range(value: datetime) -> datetime:
    _check_date_range(value.date())
    return value


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Per-field messages for invalid input.")


# ---------------------------------------------------------------------------- shared filters


class EntityFilterField(serializers.SlugField):
    """An entity slug; the view resolves it (unknown -> 400)."""


class EventFiltersSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=RevenueEvent.Provider.choices, required=False)
    entity = EntityFilterField(required=False, max_length=64, help_text="Entity slug.")
    kind = serializers.ChoiceField(choices=RevenueEvent.Kind.choices, required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217 code.")
    occurred_from = serializers.DateTimeField(required=False, help_text="occurred_at >= this (ISO 8601, UTC if naive).")
    occurred_to = serializers.DateTimeField(required=False, help_text="occurred_at < this (ISO 8601, UTC if naive).")
    updated_since = serializers.DateTimeField(
        required=False, help_text="Rows written at or after this instant (created_at: rows are append-only)."
    )

    def validate_currency(self, value: str) -> str:
        return value.upper()

    def validate_occurred_from(self, value):
        return _check_datetime_range(value)

    def validate_occurred_to(self, value):
        return _check_datetime_range(value)

    def validate_updated_since(self, value):
        return _check_datetime_range(value)


# ---------------------------------------------------------------------------- totals


class TotalsQuerySerializer(serializers.Serializer):
    entity = EntityFilterField(required=False, max_length=64, help_text="Entity slug.")
    as_of = serializers.DateTimeField(required=False, help_text="Report as of this instant (default: now).")

    def validate_as_of(self, value):
        return _check_datetime_range(value)


class BucketsSerializer(serializers.Serializer):
    """The money buckets (docs/numbers.md): the same names mean the same sums on every surface."""

    payments_cents = serializers.IntegerField(help_text="Payments (kind payment), minor units.")
    refunds_cents = serializers.IntegerField(help_text="Refunds only (kind refund, <= 0).")
    disputes_cents = serializers.IntegerField(help_text="Money lost to disputes (kind dispute, <= 0).")
    disputes_won_cents = serializers.IntegerField(help_text="Disputed money given back (kind dispute_reversal, >= 0).")
    fees_cents = serializers.IntegerField(help_text="Processor fees (kind fee, <= 0).")
    adjustments_cents = serializers.IntegerField(help_text="Adjustments and reversals (either sign).")
    net_cents = serializers.IntegerField(help_text="The sum of all buckets (every ledger row).")


LEGACY = "API 1.0 sign split, kept unchanged; prefer `buckets`. "


class AmountsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    gross_cents = serializers.IntegerField(help_text=LEGACY + "Sum of positive rows, minor units.")
    refunds_cents = serializers.IntegerField(
        help_text=LEGACY + "Sum of refund AND dispute rows (<= 0); not buckets.refunds_cents."
    )
    other_debits_cents = serializers.IntegerField(help_text=LEGACY + "Fees, negative adjustments and reversals (<= 0).")
    net_cents = serializers.IntegerField(help_text="gross + refunds + other debits (= buckets.net_cents).")
    count = serializers.IntegerField(help_text="Ledger rows.")
    buckets = BucketsSerializer(help_text="The money buckets (added in API 1.1).")


class TotalsRowSerializer(AmountsSerializer):
    entity = serializers.CharField()
    provider = serializers.CharField()


class TotalsPeriodSerializer(serializers.Serializer):
    first_day = serializers.DateField(help_text="First business day of the period.")
    start_at = serializers.DateTimeField(help_text="Period start (business midnight) in UTC.")
    end_at = serializers.DateTimeField(help_text="as_of (inclusive), UTC.")
    rows = TotalsRowSerializer(many=True)
    by_currency = AmountsSerializer(many=True)


class TotalsPeriodsSerializer(serializers.Serializer):
    today = TotalsPeriodSerializer()
    week_to_date = TotalsPeriodSerializer()
    month_to_date = TotalsPeriodSerializer()


class TotalsSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    business_date = serializers.DateField()
    time_zone = serializers.CharField()
    entity = serializers.CharField(allow_null=True)
    periods = TotalsPeriodsSerializer()

    PERIODS = tuple(TotalsPeriodsSerializer().fields)
    ROW_FIELDS = tuple(TotalsRowSerializer().fields)
    AMOUNT_FIELDS = tuple(AmountsSerializer().fields)

    def to_representation(self, totals: dict) -> dict:
        """The declared fields, built directly: a few hundred rows stay cheap (same output as DRF's)."""

        def period(values: dict) -> dict:
            return {
                "first_day": values["first_day"].isoformat(),
                "start_at": _utc_text(values["start_at"]),
                "end_at": _utc_text(values["end_at"]),
                "rows": [{name: row[name] for name in self.ROW_FIELDS} for row in values["rows"]],
                "by_currency": [{name: row[name] for name in self.AMOUNT_FIELDS} for row in values["by_currency"]],
            }

        return {
            "as_of": _utc_text(totals["as_of"]),
            "business_date": totals["business_date"].isoformat(),
            "time_zone": totals["time_zone"],
            "entity": totals["entity"],
            "periods": {name: period(totals["periods"][name]) for name in self.PERIODS},
        }


# ---------------------------------------------------------------------------- trends


class TrendsQuerySerializer(serializers.Serializer):
    granularity = serializers.ChoiceField(choices=Cadence.values, default="daily")  # the cadence
    start = serializers.DateField(
        required=False, help_text="First business date (default: 30 days / 12 weeks / 12 months back)."
    )
    end = serializers.DateField(required=False, help_text="Last business date, inclusive (default: today).")
    entity = EntityFilterField(required=False, max_length=64)
    provider = serializers.ChoiceField(choices=RevenueEvent.Provider.choices, required=False)

    def validate_start(self, value):
        return _check_date_range(value)

    def validate_end(self, value):
        return _check_date_range(value)


class TrendPointSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text="Last business day of the period (inclusive).")
    gross_cents = serializers.IntegerField(help_text=LEGACY + "Sum of positive rows.")
    refunds_cents = serializers.IntegerField(help_text=LEGACY + "Sum of refund AND dispute rows (<= 0).")
    other_debits_cents = serializers.IntegerField(help_text=LEGACY + "Every other negative row (<= 0).")
    net_cents = serializers.IntegerField()
    count = serializers.IntegerField()
    buckets = BucketsSerializer(help_text="The money buckets (added in API 1.1).")
    growth = serializers.CharField(
        allow_null=True, help_text="Net vs the previous period as a decimal string (0.2500 = +25%); null if that was 0."
    )
    complete = serializers.BooleanField(help_text="False while the period is still running.")


class TrendSeriesSerializer(serializers.Serializer):
    currency = serializers.CharField()
    points = TrendPointSerializer(many=True)


class TrendsSerializer(serializers.Serializer):
    granularity = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField()
    series = TrendSeriesSerializer(many=True)


# ---------------------------------------------------------------------------- events


def cursor_encode(occurred_at: datetime, event_pk: uuid.UUID) -> str:
    raw = json.dumps([occurred_at.isoformat(), str(event_pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        occurred_at = datetime.fromisoformat(occurred)
        if timezone.is_naive(occurred_at):
            raise ValueError("naive")
        return occurred_at, uuid.UUID(pk)
    except (ValueError, TypeError, UnicodeError):
        raise serializers.ValidationError("not a cursor returned by this API") from None


class EventsQuerySerializer(EventFiltersSerializer):
    cursor = serializers.CharField(required=False, max_length=200, help_text="`next_cursor` of the previous page.")
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=1000)

    def validate_cursor(self, value: str):
        return cursor_decode(value)


class EventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    event_id = serializers.CharField()
    provider = serializers.CharField()
    event_type = serializers.CharField()
    kind = serializers.CharField()
    amount_cents = serializers.IntegerField(help_text="Signed, minor units of `currency`.")
    amount = serializers.SerializerMethodField(help_text="The same amount as a decimal string.")
    currency = serializers.CharField()
    amount_usd_cents = serializers.IntegerField(allow_null=True)
    entity = serializers.CharField(source="entity.slug")
    occurred_at = serializers.DateTimeField(help_text="UTC.")
    business_date = serializers.SerializerMethodField(help_text="occurred_at's date in the business time zone.")
    created_at = serializers.DateTimeField(help_text="When the row was written (UTC).")
    customer_email = serializers.CharField(allow_null=True)
    customer_id = serializers.CharField(allow_null=True)
    parent_event_id = serializers.CharField()
    reference = serializers.CharField()
    metadata = serializers.DictField()

    def get_amount(self, event) -> str:
        return str(from_minor_units(event.amount_cents, event.currency))

    def get_business_date(self, event) -> date:
        return business_date_of(event.occurred_at)

    def to_representation(self, event) -> dict:
        """The declared fields, built directly: a page of 1,000 rows stays cheap (same output as DRF's)."""
        return {
            "id": str(event.id),
            "event_id": event.event_id,
            "provider": event.provider,
            "event_type": event.event_type,
            "kind": event.kind,
            "amount_cents": event.amount_cents,
            "amount": self.get_amount(event),
            "currency": event.currency,
            "amount_usd_cents": event.amount_usd_cents,
            "entity": event.entity.slug,
            "occurred_at": _utc_text(event.occurred_at),
            "business_date": self.get_business_date(event).isoformat(),
            "created_at": _utc_text(event.created_at),
            "customer_email": event.customer_email,
            "customer_id": event.customer_id,
            "parent_event_id": event.parent_event_id,
            "reference": event.reference,
            "metadata": event.metadata,
        }


def _utc_text(instant: datetime) -> str:
    """DRF's DateTimeField output for UTC: ISO 8601 with Z."""
    text = instant.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class EventsPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.CharField(allow_null=True, help_text="URL of the next page, or null on the last page.")


class ExportQuerySerializer(EventFiltersSerializer):
    format = serializers.ChoiceField(choices=["csv", "json"], default="csv")


class ExportRowSerializer(serializers.Serializer):
    """One exported row (JSON format); CSV has the same columns."""

    id = serializers.UUIDField()
    event_id = serializers.CharField()
    provider = serializers.CharField()
    event_type = serializers.CharField()
    kind = serializers.CharField()
    bucket = serializers.CharField(help_text="The money bucket the row adds to (added in API 1.1).")
    entity = serializers.CharField()
    amount = serializers.CharField()
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    amount_usd_cents = serializers.IntegerField(allow_null=True)
    occurred_at_utc = serializers.CharField()
    occurred_at_local = serializers.CharField()
    business_date = serializers.CharField()
    time_zone = serializers.CharField()
    customer_email = serializers.CharField(allow_null=True)
    customer_id = serializers.CharField(allow_null=True)
    reference = serializers.CharField()
    parent_event_id = serializers.CharField()
    created_at_utc = serializers.CharField()


# ---------------------------------------------------------------------------- subscriptions


class SubscriptionCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookSubscription.EventType.choices), min_length=1, max_length=10
    )
    threshold_amount_cents = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=10**15, help_text="For threshold.crossed (minor units)."
    )
    threshold_currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217 code, for threshold.crossed."
    )


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.URLField()
    event_types = serializers.ListField(child=serializers.CharField())
    threshold_amount_cents = serializers.IntegerField(allow_null=True)
    threshold_currency = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    disabled_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="Standard Webhooks signing secret (whsec_…). Shown only in this response.")


class SubscriptionListSerializer(serializers.Serializer):
    results = SubscriptionSerializer(many=True)


# ---------------------------------------------------------------------------- forecast


class ForecastQuerySerializer(serializers.Serializer):
    entity = EntityFilterField(required=False, max_length=64, help_text="Entity slug (default: every entity).")
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, help_text="ISO 4217 code (default: every currency)."
    )

    def validate_currency(self, value: str) -> str:
        return value.upper()


class ForecastDaySerializer(serializers.Serializer):
    day = serializers.DateField(help_text="Business day (REVENUE_TIME_ZONE).")
    mean_cents = serializers.IntegerField(help_text="Expected net revenue (all buckets), minor units.")
    lower80_cents = serializers.IntegerField()
    upper80_cents = serializers.IntegerField()
    lower95_cents = serializers.IntegerField()
    upper95_cents = serializers.IntegerField()


class ProjectionSerializer(serializers.Serializer):
    first_day = serializers.DateField(help_text="First business day of the month or quarter.")
    last_day = serializers.DateField()
    actual_through = serializers.DateField(help_text="Days up to this one are actual net; the rest are forecast.")
    actual_cents = serializers.IntegerField(help_text="Actual net from first_day through actual_through.")
    projected_cents = serializers.IntegerField(help_text="actual_cents + the expected net of the remaining days.")
    lower80_cents = serializers.IntegerField(
        help_text="80% interval of the period's total, from simulated paths (not a sum of daily bounds)."
    )
    upper80_cents = serializers.IntegerField()


class ForecastSeriesSerializer(serializers.Serializer):
    entity = serializers.CharField(help_text="Entity slug.")
    entity_name = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["ok", "not_enough_history", "failed"],
        help_text=(
            "not_enough_history: fewer than 56 days of ledger; failed: the model could not be fitted "
            "(parameters.error says why). Either way no forecast is drawn."
        ),
    )
    history_days = serializers.IntegerField(help_text="Business days from the first ledger row to fit_last_day.")
    model = serializers.CharField(allow_blank=True, help_text="e.g. 'ETS(A,Ad,A) weekly'; empty without a forecast.")
    fit_first_day = serializers.DateField(allow_null=True)
    fit_last_day = serializers.DateField(help_text="Last actual day the model saw; the forecast starts the next day.")
    generated_at = serializers.DateTimeField()
    parameters = serializers.DictField(help_text="Smoothing parameters; initial states and sigma in minor units.")
    days = ForecastDaySerializer(many=True)
    month = ProjectionSerializer(allow_null=True, help_text="The month containing as_of_day.")
    quarter = ProjectionSerializer(allow_null=True, help_text="The calendar quarter containing as_of_day.")


class ForecastSerializer(serializers.Serializer):
    as_of_day = serializers.DateField(help_text="Last complete business day, counted as actual.")
    time_zone = serializers.CharField()
    series = ForecastSeriesSerializer(many=True)
