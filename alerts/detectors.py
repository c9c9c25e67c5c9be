"""Detectors: pure functions from selector results to `Condition`s (or None).

A Condition says what happened, how much, compared to what and where to look,
and carries the fingerprint that makes one condition one alert. Nothing here
touches the database: the services fetch, the detectors judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from forecasts.engine import anomaly_bounds, is_anomaly
from forecasts.selectors import DayForecast
from revenue.business_time import business_local, business_zone, day_bounds
from revenue.duplicates import duplicate_fingerprint, is_possible_duplicate
from revenue.entries import TRUE_OCCURRED_AT
from revenue.models import RevenueEvent
from revenue.money import format_money, minor_unit_exponent

from .models import AlertRule, RevenueAlert
from .selectors import DailySeries, DayTotal, RateCounts, UnresolvedSummary

ALERT_TYPE = RevenueAlert.AlertType
SEVERITY = RevenueAlert.Severity
LEDGER_WHERE = "Admin > Revenue > Revenue events"


@dataclass(frozen=True)
class Condition:
    alert_type: str
    severity: str
    fingerprint: str
    message: str
    metadata: dict = field(default_factory=dict)
    entity_id: int | None = None
    rule_id: int | None = None
    # True when the fingerprint is not bound to one episode and the detector reports only what is
    # new since the last close (e.g. unresolved entities): a closed alert may then be raised again.
    reopen_closed: bool = False


def local_time(instant: datetime) -> str:
    return business_local(instant).strftime("%Y-%m-%d %H:%M %Z")


def local_day(day: date) -> str:
    return day.strftime("%a %Y-%m-%d")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _median(values: Sequence[int | Decimal]) -> Decimal:
    ordered = sorted(Decimal(v) for v in values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def robust_baseline(values: Sequence[int]) -> tuple[Decimal, Decimal]:
    """(median, MAD): the median absolute deviation ignores the odd outlier week."""
    median = _median(values)
    return median, _median([abs(Decimal(v) - median) for v in values])


def _rule_metadata(rule: AlertRule) -> dict:
    return {"rule_id": rule.pk, "rule": rule.name, "scope": rule.scope_label}


# --- Rules ------------------------------------------------------------------------------------------


def rule_applies_on(rule: AlertRule, day: date) -> bool:
    return not rule.weekdays or day.weekday() in rule.weekdays


def detect_daily_threshold(*, rule: AlertRule, total: DayTotal, complete: bool) -> Condition | None:
    """Daily net above / below the rule's amount. `complete` is False for the day still in progress."""
    if not rule_applies_on(rule, total.day):
        return None
    money = format_money(total.net_cents, rule.currency)
    limit = format_money(rule.amount_cents, rule.currency)
    so_far = "" if complete else " so far"
    if rule.kind == AlertRule.Kind.DAILY_ABOVE:
        if total.net_cents <= rule.amount_cents:
            return None
        comparison = f"above the {limit} threshold"
    elif rule.kind == AlertRule.Kind.DAILY_BELOW:
        if not complete or total.net_cents >= rule.amount_cents:
            return None
        comparison = f"below the {limit} minimum"
    else:
        return None
    message = (
        f"Net revenue for {rule.scope_label} was {money} on {local_day(total.day)}{so_far} "
        f"({_plural(total.event_count, 'ledger row')}), {comparison} of rule '{rule.name}'. "
        f"Where to look: {LEDGER_WHERE}, {total.day.isoformat()} (Central)."
    )
    return Condition(
        alert_type=ALERT_TYPE.THRESHOLD,
        severity=rule.severity,
        fingerprint=f"rule:{rule.pk}:{rule.kind}:{total.day.isoformat()}",
        message=message,
        metadata={
            **_rule_metadata(rule),
            "day": total.day.isoformat(),
            "net_cents": total.net_cents,
            "threshold_cents": rule.amount_cents,
            "currency": rule.currency,
            "event_count": total.event_count,
            "where": f"{LEDGER_WHERE}, {total.day.isoformat()}",
        },
        entity_id=rule.entity_id,
        rule_id=rule.pk,
    )


def detect_locked_period_arrival(*, event: RevenueEvent) -> Condition | None:
    """A provider row that arrived for a locked period and was booked on the first open day."""
    true_time = (event.metadata or {}).get(TRUE_OCCURRED_AT)
    if not isinstance(true_time, str):
        return None
    happened = datetime.fromisoformat(true_time)
    message = (
        f"{event.get_provider_display()} sent {event.event_id} ({format_money(event.amount_cents, event.currency)}, "
        f"{event.get_kind_display().lower()}) dated {local_time(happened)}, inside {event.entity.name}'s locked period "
        f"(books closed through {event.entity.lock_date}). It is booked on the first open day, "
        f"{local_time(event.occurred_at)}, and keeps its own date as a reference. If it belongs in the closed "
        f"period, move the lock date and book a correction there. Where to look: {LEDGER_WHERE}, search {event.event_id}."
    )
    return Condition(
        alert_type=ALERT_TYPE.LOCKED_PERIOD,
        severity=RevenueAlert.Severity.WARNING,
        fingerprint=f"locked-period:{event.event_id}"[:255],
        message=message,
        metadata={
            "event_id": event.event_id,
            "true_occurred_at": true_time,
            "booked_at": event.occurred_at.isoformat(),
            "amount_cents": event.amount_cents,
            "currency": event.currency,
            "where": f"{LEDGER_WHERE}, search {event.event_id}",
        },
        entity_id=event.entity_id,
    )


def detect_large_transaction(*, rule: AlertRule, event: RevenueEvent) -> Condition | None:
    if rule.kind != AlertRule.Kind.TRANSACTION_ABOVE or event.currency != rule.currency:
        return None
    if (
        event.kind in (RevenueEvent.Kind.FEE, RevenueEvent.Kind.REVERSAL)
        or abs(event.amount_cents) <= rule.amount_cents
    ):
        return None
    who = event.customer_email or event.customer_id or "unknown customer"
    message = (
        f"Single {event.get_kind_display().lower()} of {format_money(event.amount_cents, event.currency)} "
        f"({event.event_id}, {event.get_provider_display()}, {who}, {event.entity.name}) at "
        f"{local_time(event.occurred_at)}, above the {format_money(rule.amount_cents, rule.currency)} threshold "
        f"of rule '{rule.name}'. Where to look: {LEDGER_WHERE}, search {event.event_id}."
    )
    return Condition(
        alert_type=ALERT_TYPE.THRESHOLD,
        severity=rule.severity,
        fingerprint=f"rule:{rule.pk}:{rule.kind}:{event.event_id}"[:255],
        message=message,
        metadata={
            **_rule_metadata(rule),
            "event_id": event.event_id,
            "amount_cents": event.amount_cents,
            "threshold_cents": rule.amount_cents,
            "currency": event.currency,
            "where": f"{LEDGER_WHERE}, search {event.event_id}",
        },
        entity_id=event.entity_id,
        rule_id=rule.pk,
    )


def rate_window(*, rule: AlertRule, now: datetime) -> tuple[datetime, datetime, date, date]:
    """The rule's window: the last `window_days` business days, today (so far) included."""
    today = now.astimezone(business_zone()).date()
    first = today - timedelta(days=rule.window_days - 1)
    start, _ = day_bounds(first)
    return start, now, first, today


def detect_rate(*, rule: AlertRule, counts: RateCounts, first_day: date, last_day: date) -> Condition | None:
    """Refund or dispute count as a share of payment count in the window.

    One alert per rule per window period at most: the fingerprint names the period,
    so a resolved alert stays resolved until the next window starts.
    """
    if rule.kind not in AlertRule.RATE_KINDS:
        return None
    if counts.payments == 0 or counts.payments < rule.minimum_events:
        return None
    refund = rule.kind == AlertRule.Kind.REFUND_RATE_ABOVE
    numerator = counts.refunds if refund else counts.disputes
    rate = (Decimal(numerator) * 100 / Decimal(counts.payments)).quantize(Decimal("0.01"))
    if rate <= rule.rate_percent:
        return None
    what = "refund" if refund else "dispute"
    period = last_day.toordinal() // rule.window_days
    message = (
        f"{what.capitalize()} rate for {rule.scope_label} is {rate}% over the {_plural(rule.window_days, 'day')} "
        f"{first_day.isoformat()} to {last_day.isoformat()} ({_plural(numerator, what)} against "
        f"{_plural(counts.payments, 'payment')}), above the {rule.rate_percent}% limit of rule '{rule.name}'. "
        f"Where to look: {LEDGER_WHERE}, kind = {what}, from {first_day.isoformat()}."
    )
    return Condition(
        alert_type=ALERT_TYPE.THRESHOLD,
        severity=rule.severity,
        fingerprint=f"rule:{rule.pk}:{rule.kind}:period-{period}",
        message=message,
        metadata={
            **_rule_metadata(rule),
            "rate_percent": str(rate),
            "limit_percent": str(rule.rate_percent),
            "payments": counts.payments,
            f"{what}s": numerator,
            "window_start": first_day.isoformat(),
            "window_end": last_day.isoformat(),
            "where": f"{LEDGER_WHERE}, kind = {what}",
        },
        entity_id=rule.entity_id,
        rule_id=rule.pk,
    )


# --- Webhook silence --------------------------------------------------------------------------------

SILENCE_BASELINE_WEEKS = 8
SILENCE_BASELINE_MIN_WEEKS_WITH_EVENTS = 4


def silence_baseline_windows(*, now: datetime, hours: int, weeks: int = SILENCE_BASELINE_WEEKS):
    """The same wall-clock window (last `hours` hours) on each of the trailing same weekdays.

    Shifted in business wall-clock time, so a window across a DST change stays at the same local hours.
    """
    zone = business_zone()
    local_end = now.astimezone(zone).replace(tzinfo=None)
    windows = []
    for k in range(1, weeks + 1):
        end = (local_end - timedelta(weeks=k)).replace(tzinfo=zone)
        start = (local_end - timedelta(weeks=k, hours=hours)).replace(tzinfo=zone)
        windows.append((start, end))
    return windows


def silence_expected_by_schedule(*, rule: AlertRule, now: datetime) -> bool:
    local = now.astimezone(business_zone())
    if rule.weekdays and local.weekday() not in rule.weekdays:
        return False
    return rule.active_from_hour is None or rule.active_from_hour <= local.hour < rule.active_to_hour


def detect_silence(
    *,
    rule: AlertRule,
    now: datetime,
    last_event: RevenueEvent | None,
    baseline_counts: Sequence[int] | None,
) -> Condition | None:
    """No events in the rule's scope for `silence_hours`, at a time when events are expected.

    Expected = inside the rule's weekdays / hours (if set) and, with `expect_from_baseline`, the same
    hours of at least 4 of the trailing 8 same weekdays had events. A quiet Sunday stays quiet.
    The fingerprint names the last event, so one silence is one alert; the next silence (after
    events came back) is a new one.
    """
    if rule.kind != AlertRule.Kind.SILENCE or last_event is None:
        return None  # never any events: nothing to fall silent
    silent_for = now - last_event.occurred_at
    if silent_for < timedelta(hours=rule.silence_hours):
        return None
    if not silence_expected_by_schedule(rule=rule, now=now):
        return None
    busy_weeks = None
    if rule.expect_from_baseline:
        busy_weeks = sum(1 for count in baseline_counts or [] if count > 0)
        if busy_weeks < SILENCE_BASELINE_MIN_WEEKS_WITH_EVENTS:
            return None
    hours = int(silent_for.total_seconds() // 3600)
    local = now.astimezone(business_zone())
    expectation = (
        f"the same hours had events on {busy_weeks} of the last {SILENCE_BASELINE_WEEKS} {local.strftime('%A')}s"
        if busy_weeks is not None
        else "the rule expects events at this time"
    )
    source = rule.get_provider_display() if rule.provider else "webhook"
    message = (
        f"No {source} events for {rule.scope_label} in {hours} h (last: {last_event.event_id} at "
        f"{local_time(last_event.occurred_at)}); rule '{rule.name}' allows {rule.silence_hours} h and "
        f"{expectation}. Where to look: the provider's webhook delivery log (Stripe Dashboard > Developers > "
        f"Webhooks, Gumroad > Settings > Advanced) and /health."
    )
    return Condition(
        alert_type=ALERT_TYPE.SILENCE,
        severity=rule.severity,
        fingerprint=f"rule:{rule.pk}:silence:{last_event.event_id}"[:255],
        message=message,
        metadata={
            **_rule_metadata(rule),
            "last_event_id": last_event.event_id,
            "last_event_at": last_event.occurred_at.isoformat(),
            "silent_hours": hours,
            "baseline_weeks_with_events": busy_weeks,
            "where": "Provider webhook delivery log; /health",
        },
        entity_id=rule.entity_id,
        rule_id=rule.pk,
    )


# --- Anomaly of daily net against the same weekday ---------------------------------------------------


@dataclass(frozen=True)
class AnomalyPolicy:
    weeks: int = 8
    min_history_weeks: int = 4
    threshold: Decimal = Decimal("3.5")  # robust z-score (deviation / (1.4826 * MAD))
    min_deviation_major: int = 250  # in the currency's major unit (250.00 USD)
    min_relative: Decimal = Decimal("0.25")  # and at least 25 % of the usual day
    min_spread_relative: Decimal = Decimal("0.05")  # a too-regular baseline still has 5 % spread
    forecast_interval: float = 99.0  # percent: a day outside this interval of its forecast (ALERTS_ANOMALY_INTERVAL)


def detect_anomaly(
    *, series: DailySeries, day: date, entity_name: str, policy: AnomalyPolicy | None = None
) -> Condition | None:
    """Daily net of `day` far from the median of the trailing same weekdays (median / MAD).

    Needs `min_history_weeks` same weekdays since the first row of this entity and currency;
    a weekday without rows counts as 0 once history covers it. A deviation must be both
    statistically large and large in money (absolute floor and share of the usual day).
    """
    policy = policy or AnomalyPolicy()
    baseline_days = [day - timedelta(weeks=k) for k in range(1, policy.weeks + 1)]
    baseline_days = [d for d in baseline_days if d >= series.first_day]
    if len(baseline_days) < policy.min_history_weeks:
        return None
    values = [series.nets.get(d, 0) for d in baseline_days]
    median, mad = robust_baseline(values)
    actual = series.nets.get(day, 0)
    deviation = Decimal(actual) - median
    spread = max(Decimal("1.4826") * mad, policy.min_spread_relative * abs(median), Decimal(1))
    score = abs(deviation) / spread
    floor = max(
        Decimal(policy.min_deviation_major) * (Decimal(10) ** minor_unit_exponent(series.currency)),
        policy.min_relative * abs(median),
    )
    if score < policy.threshold or abs(deviation) < floor:
        return None
    currency = series.currency
    weekday = day.strftime("%A")
    direction = "above" if deviation > 0 else "below"
    usual_count = _median([series.counts.get(d, 0) for d in baseline_days])
    message = (
        f"Net revenue for {entity_name} on {local_day(day)} was {format_money(actual, currency)}, "
        f"{format_money(int(abs(deviation)), currency)} {direction} the usual {weekday} "
        f"(median {format_money(int(median), currency)} over the last {_plural(len(baseline_days), weekday)}, "
        f"typical spread ±{format_money(int(Decimal('1.4826') * mad), currency)}); "
        f"{_plural(series.counts.get(day, 0), 'ledger row')} that day against a usual {usual_count.normalize():f}. "
        f"Where to look: {LEDGER_WHERE}, {day.isoformat()} (Central)"
        + (", and the webhook delivery logs for missing events." if direction == "below" else ".")
    )
    return Condition(
        alert_type=ALERT_TYPE.ANOMALY,
        severity=SEVERITY.WARNING,
        fingerprint=f"anomaly:{series.entity_id}:{currency}:{day.isoformat()}",
        message=message,
        metadata={
            "day": day.isoformat(),
            "currency": currency,
            "net_cents": actual,
            "median_cents": int(median),
            "mad_cents": int(mad),
            "deviation_cents": int(deviation),
            "score": str(score.quantize(Decimal("0.1"))),
            "baseline_days": [d.isoformat() for d in baseline_days],
            "where": f"{LEDGER_WHERE}, {day.isoformat()}",
        },
        entity_id=series.entity_id,
    )


def detect_forecast_anomaly(
    *,
    day: date,
    expected: DayForecast,
    actual: int,
    row_count: int,
    entity_name: str,
    policy: AnomalyPolicy | None = None,
) -> Condition | None:
    """Daily net of `day` (every ledger row: revenue's net bucket, as the forecast models it) outside
    the policy's interval (99% by default) of the forecast fitted before it (forecasts), and far in money (the policy's
    absolute floor and share of the expected day). Same alert type and fingerprint as the
    same-weekday rule, which stays the fallback while a series has no forecast."""
    policy = policy or AnomalyPolicy()
    currency = expected.currency
    floor = policy.min_deviation_major * 10 ** minor_unit_exponent(currency)
    lower, upper = anomaly_bounds(
        mean=expected.mean_cents,
        lower95=expected.lower95_cents,
        upper95=expected.upper95_cents,
        interval=policy.forecast_interval,
    )
    if not is_anomaly(
        actual=actual,
        mean=expected.mean_cents,
        lower=lower,
        upper=upper,
        min_deviation=floor,
        min_relative=float(policy.min_relative),
    ):
        return None
    deviation = actual - expected.mean_cents
    direction = "above" if deviation > 0 else "below"
    interval = (
        f"{policy.forecast_interval:g}% interval {format_money(lower, currency)} to {format_money(upper, currency)}"
    )
    message = (
        f"Net revenue for {entity_name} on {local_day(day)} was {format_money(actual, currency)}, "
        f"{format_money(abs(deviation), currency)} {direction} the expected {format_money(expected.mean_cents, currency)} "
        f"({f'{expected.calendar_effect} included; ' if expected.calendar_effect else ''}{interval}; forecast {expected.model_name} fitted through "
        f"{expected.last_actual_day.isoformat()}); {_plural(row_count, 'ledger row')} that day. "
        f"Where to look: {LEDGER_WHERE}, {day.isoformat()} (Central)"
        + (", and the webhook delivery logs for missing events." if direction == "below" else ".")
    )
    return Condition(
        alert_type=ALERT_TYPE.ANOMALY,
        severity=SEVERITY.WARNING,
        fingerprint=f"anomaly:{expected.entity_id}:{currency}:{day.isoformat()}",
        message=message,
        metadata={
            "day": day.isoformat(),
            "currency": currency,
            "net_cents": actual,
            "method": "forecast",
            "model": expected.model_name,
            "forecast_through": expected.last_actual_day.isoformat(),
            "expected_cents": expected.mean_cents,
            "interval_percent": policy.forecast_interval,
            "lower_cents": lower,
            "upper_cents": upper,
            "lower95_cents": expected.lower95_cents,
            "upper95_cents": expected.upper95_cents,
            "deviation_cents": deviation,
            "where": f"{LEDGER_WHERE}, {day.isoformat()}",
        },
        entity_id=expected.entity_id,
    )


# --- Suspected duplicates ---------------------------------------------------------------------------


def duplicate_matches(*, event: RevenueEvent, neighbours: Sequence[RevenueEvent], window: timedelta) -> list:
    """The neighbours that `revenue.duplicates.is_possible_duplicate` pairs with `event`."""
    return [other for other in neighbours if is_possible_duplicate(event, other, window=window)]


def duplicate_clusters(
    *, rows: Sequence[RevenueEvent], recent_ids: set, window: timedelta
) -> list[tuple[RevenueEvent, list[RevenueEvent]]]:
    """For each recent row, the rows it duplicates (rows come grouped by customer, amount, currency)."""
    groups: dict[tuple, list[RevenueEvent]] = {}

    def keys(row: RevenueEvent) -> list[tuple]:
        money = (row.amount_cents, row.currency)
        return [
            *([(*money, "email", row.customer_email.lower())] if row.customer_email else []),
            *([(*money, "id", row.customer_id)] if row.customer_id else []),
        ]

    for row in rows:
        for key in keys(row):
            groups.setdefault(key, []).append(row)
    found = []
    for row in rows:
        if row.pk not in recent_ids:
            continue
        neighbours = {other.pk: other for key in keys(row) for other in groups[key]}
        matches = duplicate_matches(event=row, neighbours=list(neighbours.values()), window=window)
        if matches:
            found.append((row, sorted(matches, key=lambda e: (e.occurred_at, e.event_id))))
    return found


def detect_duplicate(*, event: RevenueEvent, candidates: Sequence[RevenueEvent], window: timedelta) -> Condition | None:
    """One alert for `event` and the payments the duplicate rule pairs it with (see
    `revenue.duplicates`); the fingerprint is the rule's, so the CSV import's check names it alike."""
    if not candidates:
        return None
    group = sorted([event, *candidates], key=lambda e: (e.occurred_at, e.event_id))
    ids = sorted(e.event_id for e in group)
    manual = [e for e in group if e.provider == RevenueEvent.Provider.MANUAL]
    provider_side = [e for e in group if e.provider != RevenueEvent.Provider.MANUAL]
    money = format_money(event.amount_cents, event.currency)
    who = event.customer_email or event.customer_id
    listed = "; ".join(f"{e.event_id} ({e.get_provider_display()}, {local_time(e.occurred_at)})" for e in group)
    if manual and provider_side:
        message = (
            f"Possible double booking: a manual entry and a provider payment of {money} from {who} on "
            f"{local_day(business_local(group[0].occurred_at).date())}: {listed}. If the manual "
            f"entry records the same money, reverse it (Admin > Revenue events > reverse)."
        )
    else:
        span = group[-1].occurred_at - group[0].occurred_at
        minutes = int(span.total_seconds() // 60)
        message = (
            f"Possible duplicate payment: {len(group)} payments of {money} from {who} within "
            f"{_plural(minutes, 'minute')} under different ids: {listed}. If the customer was charged twice, "
            f"refund one in the provider; if it was booked twice, reverse the extra ledger row."
        )
    return Condition(
        alert_type=ALERT_TYPE.DUPLICATE,
        severity=SEVERITY.WARNING,
        fingerprint=duplicate_fingerprint(ids),
        message=message,
        metadata={
            "event_ids": ids,
            "amount_cents": event.amount_cents,
            "currency": event.currency,
            "customer": who,
            "window_minutes": int(window.total_seconds() // 60),
            "where": f"{LEDGER_WHERE}, search {who}",
        },
        entity_id=event.entity_id,
    )


# --- Unresolved entity ------------------------------------------------------------------------------


UNRESOLVED_FINGERPRINT = "entity:unresolved"


def detect_unresolved(*, summary: UnresolvedSummary) -> Condition | None:
    """Rows whose entity hint matched no entity (booked to the default): one alert while any are new."""
    if not summary.count or summary.latest is None:
        return None
    latest = summary.latest
    hint = (latest.metadata or {}).get("entity") or (latest.metadata or {}).get("entity_hint") or ""
    message = (
        f"{_plural(summary.count, 'ledger row')} since {local_time(summary.first_at)} named an entity that "
        f"matches none and {'was' if summary.count == 1 else 'were'} booked to {latest.entity.name} "
        f"(latest: {latest.event_id}, {format_money(latest.amount_cents, latest.currency)}"
        f"{f', hint {hint!r}' if hint else ''}). Add the name as an alias or id on the right entity "
        f"(Admin > Revenue > Entities), then reverse and re-book the rows. "
        f"Where to look: {LEDGER_WHERE}, entity source = unresolved."
    )
    return Condition(
        alert_type=ALERT_TYPE.ENTITY,
        severity=SEVERITY.WARNING,
        fingerprint=UNRESOLVED_FINGERPRINT,
        message=message,
        metadata={
            "count": summary.count,
            "latest_event_id": latest.event_id,
            "since": summary.first_at.isoformat(),
            "where": f"{LEDGER_WHERE}, entity source = unresolved",
        },
        entity_id=latest.entity_id,
        reopen_closed=True,
    )
