"""Compute, send and catch up revenue summaries.

A period's rows (one per entity plus one for all entities, entity NULL) are
written under a lock on the all-entities row, so two workers computing or
sending the same period run one after the other. Sending writes the outbox
message `summary.<period>` in the same transaction that marks the rows sent:
a rolled-back send posts nothing, a committed one is delivered exactly once
per channel target by the integrations app.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.db.models.options import Options
from django.utils import timezone

from forecasts.selectors import forecast_digest_section
from revenue.business_time import business_date_of, day_bounds, day_start
from revenue.errors import ApplicationError
from revenue.models import Entity, OutboxMessage, RevenueEvent
from revenue.outbox import outbox_publish
from revenue.periods import Cadence, Period, period_containing, periods_between
from revenue.selectors.buckets import BUCKET_FIELDS, bucket_of

from .models import RevenueSummary
from .periods import due_periods
from .selectors import (
    Row,
    late_row_days,
    ledger_groups,
    ledger_groups_by_day,
    ledger_totals_by_period,
    summaries_sent_between,
    summary_last_sent_start,
)

TOPIC_PREFIX = "summary."
# A summary sent again because its period changed after it was sent (summaries_revise).
TOPIC_REVISED_PREFIX = f"{TOPIC_PREFIX}revised."

Kind = RevenueEvent.Kind
# The digest's money columns are the money buckets (revenue.selectors.buckets), net last.
MONEY_COLUMNS = BUCKET_FIELDS

# How far back a digest looks for late events in periods it already reported.
AMENDMENT_LOOKBACK_DAYS = {Cadence.DAILY: 62, Cadence.WEEKLY: 182, Cadence.MONTHLY: 400}
REVISION_LOOKBACK = timedelta(days=2)

# The figures and payloads below are JSON documents (stored in JSONFields, sent through the outbox)
# whose nested values mix ints, strings, lists and dicts.
Json = dict[str, Any]


# --- pure folding of the aggregated groups (a handful of rows, never ledger rows) ---------------


def _average(total: int, count: int) -> int | None:
    if not count:
        return None
    return int((Decimal(total) / Decimal(count)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _rate(value: Decimal) -> str:
    """'1.0850000000' -> '1.085': the rate as stated, without storage padding."""
    return format(value.normalize(), "f")


def _empty_money() -> Json:
    return dict.fromkeys(MONEY_COLUMNS, 0) | {"event_count": 0, "payment_count": 0, "gumroad_fees_unknown": False}


def summary_figures(groups: list[Row]) -> Json:
    """Fold aggregated ledger groups (see selectors.ledger_groups) into a summary's figures.

    Per-currency figures are exact; reporting-currency figures add only rows
    whose conversion is stated on the ledger row, and say how many are missing.
    """
    reporting = _empty_money()
    converted_payments = 0
    unconverted = 0
    by_currency: dict[str, Json] = defaultdict(_empty_money)
    by_provider: dict[str, Json] = defaultdict(lambda: {"event_count": 0, "by_currency": defaultdict(int)})
    by_kind: dict[str, Json] = defaultdict(lambda: {"event_count": 0, "by_currency": defaultdict(int)})
    fx: dict[str, Json] = {}
    for group in groups:
        currency, kind, count = group["currency"], group["kind"], group["event_count"]
        amount, converted = group["amount_cents"] or 0, group["converted_count"]
        column = f"{bucket_of(kind)}_cents"
        money = by_currency[currency]
        if group.get("fee_unknown_count"):
            money["gumroad_fees_unknown"] = reporting["gumroad_fees_unknown"] = True
        money[column] += amount
        money["net_cents"] += amount
        money["event_count"] += count
        reporting["event_count"] += count
        if kind == Kind.PAYMENT:
            money["payment_count"] += count
            reporting["payment_count"] += count
            converted_payments += converted
        usd = group["usd_cents"] or 0
        reporting[column] += usd
        reporting["net_cents"] += usd
        unconverted += count - converted
        by_provider[group["provider"]]["event_count"] += count
        by_provider[group["provider"]]["by_currency"][currency] += amount
        by_kind[kind]["event_count"] += count
        by_kind[kind]["by_currency"][currency] += amount
        if currency != settings.REPORTING_CURRENCY:
            _add_stated_rates(fx, group)
    for money in by_currency.values():
        money["average_transaction_cents"] = _average(money["payments_cents"], money["payment_count"])
    return {
        **{column: reporting[column] for column in MONEY_COLUMNS},
        "gumroad_fees_unknown": reporting["gumroad_fees_unknown"],
        "total_amount_cents": reporting["net_cents"],
        "event_count": reporting["event_count"],
        "payment_count": reporting["payment_count"],
        "average_transaction_cents": _average(reporting["payments_cents"], converted_payments),
        "unconverted_event_count": unconverted,
        "by_currency": dict(sorted(by_currency.items())),
        "by_provider": _breakdown(by_provider),
        "by_kind": _breakdown(by_kind),
        "fx": {
            currency: {**stated, "rates": {source: list(pair) for source, pair in sorted(stated["rates"].items())}}
            for currency, stated in sorted(fx.items())
        },
    }


def _add_stated_rates(fx: dict[str, Json], group: Row) -> None:
    """How a non-reporting currency's rows were converted: counts, and each source's lowest and highest rate."""
    count, converted = group["event_count"], group["converted_count"]
    stated = fx.setdefault(group["currency"], {"rates": {}, "converted_event_count": 0, "unconverted_event_count": 0})
    stated["converted_event_count"] += converted
    stated["unconverted_event_count"] += count - converted
    if converted and group["rate_min"] is not None:
        source = group["fx_source"] or "unknown"
        low, high = stated["rates"].get(source, (None, None))
        rate_min, rate_max = Decimal(group["rate_min"]), Decimal(group["rate_max"])
        stated["rates"][source] = (
            _rate(min(rate_min, Decimal(low)) if low else rate_min),
            _rate(max(rate_max, Decimal(high)) if high else rate_max),
        )


def _breakdown(groups: dict[str, Json]) -> Json:
    """By provider or kind: event count and per-currency amounts, in name and currency order."""
    return {
        name: {"event_count": v["event_count"], "by_currency": dict(sorted(v["by_currency"].items()))}
        for name, v in sorted(groups.items())
    }


def _snapshot(by_currency: Json) -> Json:
    return {
        currency: {"net_cents": money["net_cents"], "event_count": money["event_count"]}
        for currency, money in sorted(by_currency.items())
    }


# --- computing --------------------------------------------------------------------------------


def _lock_digest_row(period: Period) -> RevenueSummary:
    """Create if needed, then lock, the all-entities row: the period's mutex."""
    RevenueSummary.objects.get_or_create(
        period=period.cadence, start_date=period.first_day, entity=None, defaults={"end_date": period.last_day}
    )
    return (
        RevenueSummary.objects.select_for_update()
        .order_by()
        .get(period=period.cadence, start_date=period.first_day, entity__isnull=True)
    )


def _apply(row: RevenueSummary, figures: Json, *, as_of: datetime) -> None:
    for field in (
        *MONEY_COLUMNS,
        "gumroad_fees_unknown",
        "total_amount_cents",
        "event_count",
        "payment_count",
        "average_transaction_cents",
        "unconverted_event_count",
        "by_currency",
        "by_provider",
        "by_kind",
        "fx",
    ):
        setattr(row, field, figures[field])
    row.currency = settings.REPORTING_CURRENCY
    row.as_of = as_of
    if row.entity_id is None:
        row.by_entity = figures.get("by_entity", {})


def _scope_figures(groups: list[Row], entities: list[Entity]) -> tuple[Json, dict[int, Json]]:
    """Figures for all entities (with the per-entity breakdown) and for each entity, from one period's groups."""
    per_entity: dict[int, list[Row]] = defaultdict(list)
    for group in groups:
        per_entity[group["entity_id"]].append(group)
    entity_figures = {entity.pk: summary_figures(per_entity.get(entity.pk, [])) for entity in entities}
    figures = summary_figures(groups)
    figures["by_entity"] = {
        entity.slug: {
            "name": entity.name,
            "net_cents": entity_figures[entity.pk]["net_cents"],
            "event_count": entity_figures[entity.pk]["event_count"],
            "by_currency": {c: m["net_cents"] for c, m in entity_figures[entity.pk]["by_currency"].items()},
        }
        for entity in entities
    }
    return figures, entity_figures


def _compute_locked(period: Period, digest: RevenueSummary) -> list[RevenueSummary]:
    start, end = period.bounds
    as_of = timezone.now()
    groups = ledger_groups(start=start, end=end)  # the one aggregation for the whole period
    entities = list(Entity.objects.order_by("name"))
    figures, entity_figures = _scope_figures(groups, entities)
    _apply(digest, figures, as_of=as_of)
    digest.end_date = period.last_day
    digest.save()
    existing = {
        row.entity_id: row
        for row in RevenueSummary.objects.filter(
            period=period.cadence, start_date=period.first_day, entity__isnull=False
        ).order_by()
    }
    rows = [digest]
    for entity in entities:
        row = existing.get(entity.pk) or RevenueSummary(
            period=period.cadence, start_date=period.first_day, end_date=period.last_day, entity=entity
        )
        row.entity = entity
        _apply(row, entity_figures[entity.pk], as_of=as_of)
        row.save()
        rows.append(row)
    return rows


def _period_for(cadence: str, day: date) -> Period:
    try:
        return period_containing(cadence, day)
    except ValueError as exc:
        raise ApplicationError(str(exc), code="invalid_period") from None


@transaction.atomic
def summary_compute(*, cadence: str, day: date) -> list[RevenueSummary]:
    """Compute (upsert) the summaries of the period of `cadence` containing `day`: all entities first, then each.

    One database aggregation for the period; every entity gets a row, zero or not.
    """
    target = _period_for(cadence, day)
    return _compute_locked(target, _lock_digest_row(target))


UPDATE_FIELDS = (
    *MONEY_COLUMNS,
    "gumroad_fees_unknown",
    "total_amount_cents",
    "event_count",
    "payment_count",
    "average_transaction_cents",
    "unconverted_event_count",
    "by_currency",
    "by_provider",
    "by_kind",
    "by_entity",
    "fx",
    "currency",
    "as_of",
    "end_date",
    "updated_at",
)


@transaction.atomic
def summaries_recompute(*, first_day: date, last_day: date, cadences: tuple[str, ...] = tuple(Cadence.values)) -> int:
    """Recompute every period of `cadences` overlapping [first_day, last_day]; returns how many periods.

    For a long range (the two-year rebuild) one aggregation by business day
    (`ledger_groups_by_day`) replaces one per period: a week or a month is the
    union of its business days, so its groups are those of its days. Rows are
    written in bulk, under a lock on the existing rows of the range.
    """
    targets = [target for cadence in cadences for target in periods_between(cadence, first_day, last_day)]
    if not targets:
        return 0
    first = min(target.first_day for target in targets)
    last = max(target.last_day for target in targets)
    start, end = day_bounds(first, last)
    by_day: dict[date, list[Row]] = defaultdict(list)
    for group in ledger_groups_by_day(start=start, end=end):
        by_day[group.pop("day")].append(group)
    entities = list(Entity.objects.order_by("name"))
    scopes = [None, *(entity.pk for entity in entities)]
    cadences_found = sorted({target.cadence for target in targets})
    RevenueSummary.objects.bulk_create(
        [
            RevenueSummary(period=t.cadence, start_date=t.first_day, end_date=t.last_day, entity_id=scope)
            for t in targets
            for scope in scopes
        ],
        ignore_conflicts=True,  # rows that exist are updated below
    )
    rows = {
        (row.period, row.start_date, row.entity_id): row
        for row in RevenueSummary.objects.select_for_update()
        .filter(period__in=cadences_found, start_date__gte=first, start_date__lte=last)
        .order_by("pk")
    }
    as_of = timezone.now()
    changed = []
    for target in targets:
        groups = [
            group
            for offset in range((target.last_day - target.first_day).days + 1)
            for group in by_day.get(target.first_day + timedelta(days=offset), ())
        ]
        figures, entity_figures = _scope_figures(groups, entities)
        for scope in scopes:
            row = rows[(target.cadence, target.first_day, scope)]
            _apply(row, figures if scope is None else entity_figures[scope], as_of=as_of)
            row.end_date = target.last_day
            row.updated_at = as_of
            changed.append(row)
    _rows_write(changed, UPDATE_FIELDS)
    return len(targets)


def _rows_write(rows: list[RevenueSummary], field_names: tuple[str, ...]) -> None:
    """UPDATE many rows by primary key with one prepared statement (executemany).

    Django's bulk_update builds CASE expressions whose cost grows with rows x fields;
    for thousands of rows this is an order of magnitude faster.
    """
    meta = RevenueSummary._meta
    fields = [_concrete_field(meta, name) for name in field_names]
    pk = meta.pk
    assert pk is not None  # every concrete model has a primary key
    quote = connection.ops.quote_name
    # Identifiers come from the model's metadata (quoted); every value is a parameter.
    assignments = ", ".join(f"{quote(_column(field))} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(_column(pk))} = %s"  # noqa: S608
    params = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        + [pk.get_db_prep_save(row.pk, connection)]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _concrete_field(meta: Options[RevenueSummary], name: str) -> Field[Any, Any]:
    field = meta.get_field(name)
    assert isinstance(field, Field)  # UPDATE_FIELDS names columns of the model, never reverse relations
    return field


def _column(field: Field[Any, Any]) -> str:
    column = field.column
    assert column is not None  # a concrete field always has a column
    return column


def _entity(row: RevenueSummary) -> Entity:
    """The entity of a per-entity row (callers pass only those; the all-entities row has none)."""
    entity = row.entity
    assert entity is not None
    return entity


# --- sending ----------------------------------------------------------------------------------


def _amendments(digest: RevenueSummary) -> list[Json]:
    """Late events in periods already reported: compare the ledger now with what each digest said.

    One aggregation over the look-back window. Every difference becomes an
    amendment line; the amended period is recomputed and its snapshot updated,
    so the same late events are reported once.
    """
    cadence = Cadence(digest.period)
    first = digest.start_date - timedelta(days=AMENDMENT_LOOKBACK_DAYS[cadence])
    sent = list(summaries_sent_between(cadence=cadence, first_start=first, before=digest.start_date))
    if not sent:
        return []
    current: dict[tuple[date, int | None], dict[str, dict[str, int]]] = defaultdict(dict)
    for total in ledger_totals_by_period(
        cadence=cadence, start=day_start(min(s.start_date for s in sent)), end=day_start(digest.start_date)
    ):
        current[(total["bucket"], total["entity_id"])][total["currency"]] = {
            "net_cents": total["net_cents"],
            "event_count": total["event_count"],
        }
    amendments: list[Json] = []
    amended_periods: set[Period] = set()
    for row in sorted(sent, key=lambda s: (s.start_date, _entity(s).name)):
        now_known = dict(sorted(current.get((row.start_date, row.entity_id), {}).items()))
        if now_known == row.sent_snapshot:
            continue
        period = period_containing(cadence, row.start_date)
        amendments.append(_amendment(row, period, now_known))
        row.sent_snapshot = now_known
        row.save(update_fields=["sent_snapshot", "updated_at"])
        amended_periods.add(period)
    _recompute_amended(amended_periods)
    return amendments


def _amendment(row: RevenueSummary, period: Period, now_known: dict[str, dict[str, int]]) -> Json:
    """What changed in one entity's sent figures for `period`: its net per currency, before and now."""
    return {
        "period": period.cadence.value,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat(),
        "label": period.label(),
        "entity": _entity(row).slug,
        "entity_name": _entity(row).name,
        "by_currency": _currency_changes(row.sent_snapshot, now_known),
    }


def _currency_changes(sent: dict[str, dict[str, int]], now_known: dict[str, dict[str, int]]) -> dict[str, Json]:
    """Per currency whose figures moved since they were sent: net before and now, and the deltas."""
    changes: dict[str, Json] = {}
    zero = {"net_cents": 0, "event_count": 0}
    for currency in sorted(set(now_known) | set(sent)):
        before, after = sent.get(currency, zero), now_known.get(currency, zero)
        if before != after:
            changes[currency] = {
                "before_net_cents": before["net_cents"],
                "net_cents": after["net_cents"],
                "delta_net_cents": after["net_cents"] - before["net_cents"],
                "delta_event_count": after["event_count"] - before["event_count"],
            }
    return changes


def _recompute_amended(periods: set[Period]) -> None:
    """Recompute each amended period (in date order) and mark its rows amended now."""
    now = timezone.now()
    for period in sorted(periods, key=lambda p: (p.first_day, p.cadence)):
        rows = _compute_locked(period, _lock_digest_row(period))
        for row in rows:
            row.amended_at = now
            if row.entity_id is None:
                row.sent_snapshot = _snapshot(row.by_currency)
        RevenueSummary.objects.bulk_update(rows, ["amended_at", "sent_snapshot"])


def _figures_payload(row: RevenueSummary) -> Json:
    return {
        "total_amount_cents": row.total_amount_cents,
        "event_count": row.event_count,
        "payment_count": row.payment_count,
        **{column: getattr(row, column) for column in MONEY_COLUMNS},
        "gross_cents": row.payments_cents,  # the 1.0 name of payments_cents, kept for Atlas
        "gumroad_fees_unknown": row.gumroad_fees_unknown,
        "average_transaction_cents": row.average_transaction_cents,
        "unconverted_event_count": row.unconverted_event_count,
        "by_currency": row.by_currency,
        "by_provider": row.by_provider,
        "by_kind": row.by_kind,
        "fx": row.fx,
    }


# Sections an outer app adds to a digest's payload, e.g. the morning view (with the open
# alerts) in the daily digest; branchberg registers them (revenue.backfill's reporters likewise).
_payload_sections: list[Callable[[RevenueSummary], Json]] = []


def summary_payload_section_register(section: Callable[[RevenueSummary], Json]) -> None:
    """`section(digest)` returns keys to add to the payload of `digest` (an empty dict for none)."""
    if section not in _payload_sections:
        _payload_sections.append(section)


def summary_payload(*, digest: RevenueSummary, entity_rows: list[RevenueSummary], amendments: list[Json]) -> Json:
    """The outbox payload: everything a channel needs to render the digest, no database access later."""
    period = period_containing(digest.period, digest.start_date)
    payload: Json = {
        "summary_id": str(digest.id),
        "period": digest.period,
        "start_date": digest.start_date.isoformat(),
        "end_date": digest.end_date.isoformat(),
        "label": period.label(),
        "time_zone": settings.REVENUE_TIME_ZONE,
        "as_of": digest.as_of.isoformat(),
        "reporting_currency": digest.currency,
        "total": _figures_payload(digest),
        "entities": [
            {
                "summary_id": str(row.id),
                "slug": _entity(row).slug,
                "name": _entity(row).name,
                **_figures_payload(row),
            }
            for row in entity_rows
        ],
        "amendments": amendments,
    }
    if digest.period == Cadence.DAILY:
        # Month and quarter projections: the day's actual to date plus the newest forecast's rest.
        payload["forecast"] = forecast_digest_section(day=digest.start_date)
    for section in _payload_sections:
        payload |= section(digest)
    return payload


def _send_locked(rows: list[RevenueSummary]) -> OutboxMessage | None:
    digest, entity_rows = rows[0], rows[1:]
    amendments = _amendments(digest)
    now = timezone.now()
    # The conditional UPDATE is the last word: only one transaction flips sent_at.
    if not RevenueSummary.objects.filter(pk=digest.pk, sent_at__isnull=True).update(
        sent_at=now, sent_snapshot=_snapshot(digest.by_currency)
    ):
        return None
    digest.sent_at = now
    for row in entity_rows:
        row.sent_at = now
        row.sent_snapshot = _snapshot(row.by_currency)
    RevenueSummary.objects.bulk_update(entity_rows, ["sent_at", "sent_snapshot"])
    payload = summary_payload(digest=digest, entity_rows=entity_rows, amendments=amendments)
    return outbox_publish(topic=f"{TOPIC_PREFIX}{digest.period}", payload=payload)


@transaction.atomic
def summary_send(*, summary: RevenueSummary) -> OutboxMessage | None:
    """Recompute and send the period of `summary` once. Returns None when it was already sent.

    Any row of the period may be passed; the digest covers all entities.
    """
    period = period_containing(summary.period, summary.start_date)
    digest = _lock_digest_row(period)
    if digest.sent_at is not None:
        return None
    return _send_locked(_compute_locked(period, digest))


@transaction.atomic
def summary_send_period(*, cadence: str, day: date) -> OutboxMessage | None:
    """Compute and send the period of `cadence` containing `day`, unless it was already sent."""
    target = _period_for(cadence, day)
    digest = _lock_digest_row(target)
    if digest.sent_at is not None:  # another beat, or an earlier tick, got here first
        return None
    return _send_locked(_compute_locked(target, digest))


def summaries_send_due(*, now: datetime | None = None) -> list[OutboxMessage]:
    """What the 15-minute tick does: send every period due at 06:00 business time and not yet sent.

    Oldest first, each in its own transaction, so a beat that was down catches
    up and two beats at once still send each period once.
    """
    now = now or timezone.now()
    sent = []
    for cadence in Cadence:
        for target in due_periods(cadence, now, last_sent=summary_last_sent_start(cadence=cadence)):
            if RevenueSummary.objects.filter(
                period=cadence, start_date=target.first_day, entity__isnull=True, sent_at__isnull=False
            ).exists():
                continue
            message = summary_send_period(cadence=cadence, day=target.first_day)
            if message is not None:
                sent.append(message)
    return sent


# --- revisions ---------------------------------------------------------------------------------


def _revise_locked(period: Period, digest: RevenueSummary) -> OutboxMessage | None:
    """Recompute a sent period; when an entity's figures moved, publish the revised summary."""
    rows = _compute_locked(period, digest)  # each row keeps the snapshot of what was sent
    now = timezone.now()
    changes: list[Json] = []
    for row in rows[1:]:
        now_known = _snapshot(row.by_currency)
        if now_known != row.sent_snapshot:
            changes.append(_amendment(row, period, now_known))
        row.sent_snapshot = now_known
    if not changes:
        return None
    for row in rows:
        row.amended_at = now
    digest.sent_snapshot = _snapshot(digest.by_currency)
    RevenueSummary.objects.bulk_update(rows, ["amended_at", "sent_snapshot"])
    payload = summary_payload(digest=digest, entity_rows=rows[1:], amendments=changes)
    payload["revised_at"] = now.isoformat()
    return outbox_publish(topic=f"{TOPIC_REVISED_PREFIX}{period.cadence}", payload=payload)


def _moved_since_sent(periods: set[Period]) -> set[Period]:
    """Of `periods`, the sent ones whose ledger no longer matches what was sent (per entity: net and
    row count per currency, the sent snapshot), found with one aggregation per cadence: only these are
    locked and recomputed, so a tick over many late rows already revised costs a few queries."""
    moved: set[Period] = set()
    for cadence in {period.cadence for period in periods}:
        starts = {period.first_day: period for period in periods if period.cadence == cadence}
        sent = {
            (row.start_date, row.entity_id): row.sent_snapshot
            for row in summaries_sent_between(
                cadence=cadence, first_start=min(starts), before=max(starts) + timedelta(days=1)
            )
            if row.start_date in starts
        }
        now_known: dict[tuple[date, int | None], dict[str, dict[str, int]]] = defaultdict(dict)
        for total in ledger_totals_by_period(
            cadence=cadence,
            start=day_start(min(starts)),
            end=day_start(max(period.last_day for period in starts.values()) + timedelta(days=1)),
        ):
            if total["bucket"] in starts:
                now_known[(total["bucket"], total["entity_id"])][total["currency"]] = {
                    "net_cents": total["net_cents"],
                    "event_count": total["event_count"],
                }
        sent_starts = {start for start, _ in sent}
        for key in set(sent) | set(now_known):
            if key[0] in sent_starts and dict(sorted(now_known.get(key, {}).items())) != sent.get(key, {}):
                moved.add(starts[key[0]])
    return moved


def summaries_revise(*, now: datetime | None = None) -> list[OutboxMessage]:
    """What the tick does after sending: every sent summary whose period gained a row since it was sent
    (a correction dated in it, a late event) is recomputed, and a changed one published as revised:
    a Slack reply under the first message, the Notion page updated. Each period in its own transaction.

    The look-back covers rows written in the last REVISION_LOOKBACK, so a tick that was down for
    less than that misses nothing; a revised period is not revised again for the same rows.
    """
    now = now or timezone.now()
    today = business_date_of(now)
    reported = {
        period
        for day in late_row_days(since=now - REVISION_LOOKBACK)
        for cadence in Cadence
        if (period := period_containing(cadence, day)).last_day < today  # else the summary itself carries the row
    }
    messages = []
    for period in sorted(_moved_since_sent(reported), key=lambda p: (p.first_day, p.cadence)):
        with transaction.atomic():
            digest = _lock_digest_row(period)
            message = _revise_locked(period, digest) if digest.sent_at is not None else None
        if message is not None:
            messages.append(message)
    return messages
