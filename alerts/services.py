"""Alert lifecycle: raise (deduplicated by fingerprint), acknowledge, resolve, dismiss."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from forecasts.selectors import day_forecasts, day_nets
from revenue.business_time import business_date_of, day_bounds
from revenue.duplicates import duplicate_candidates, duplicate_window
from revenue.models import Entity, RevenueEvent
from revenue.outbox import outbox_publish

from . import detectors, selectors
from .detectors import AnomalyPolicy, Condition
from .models import AlertRule, RevenueAlert

logger = logging.getLogger(__name__)

TOPIC_ALERT_RAISED = "alert.raised"


def _alert_payload(alert: RevenueAlert) -> dict:
    return {
        "id": str(alert.id),
        "alert_type": alert.alert_type,
        "severity": alert.severity,
        "message": alert.message,
        "metadata": alert.metadata,
        "entity": alert.entity.slug if alert.entity else None,
        "entity_name": alert.entity.name if alert.entity else None,
        "fingerprint": alert.fingerprint,
        "created_at": alert.created_at.isoformat(),
    }


@transaction.atomic
def alert_raise(
    *,
    alert_type: str,
    severity: str,
    message: str,
    fingerprint: str,
    metadata: dict | None = None,
    entity: Entity | None = None,
    rule: AlertRule | None = None,
    now: datetime | None = None,
) -> tuple[RevenueAlert, bool]:
    """Raise an alert, or update the active one with the same fingerprint.

    Returns (alert, created). Only a newly raised alert is announced (outbox
    `alert.raised`), so a lasting condition is one message, not a stream.
    """
    now = now or timezone.now()
    active = (
        RevenueAlert.objects.select_for_update()
        .filter(fingerprint=fingerprint, status__in=RevenueAlert.ACTIVE_STATUSES)
        .first()
    )
    if active is None:
        try:
            with transaction.atomic():
                alert = RevenueAlert.objects.create(
                    alert_type=alert_type,
                    severity=severity,
                    message=message,
                    fingerprint=fingerprint,
                    metadata=metadata or {},
                    entity=entity,
                    rule=rule,
                    created_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:  # raced with another raiser of the same condition
            active = RevenueAlert.objects.select_for_update().get(
                fingerprint=fingerprint, status__in=RevenueAlert.ACTIVE_STATUSES
            )
        else:
            outbox_publish(topic=TOPIC_ALERT_RAISED, payload=_alert_payload(alert))
            return alert, True
    active.occurrences += 1
    active.last_seen_at = now
    active.message = message
    active.metadata = {**active.metadata, **(metadata or {})}
    if _severity_rank(severity) > _severity_rank(active.severity):
        active.severity = severity
    active.save(update_fields=["occurrences", "last_seen_at", "message", "metadata", "severity"])
    return active, False


def _severity_rank(severity: str) -> int:
    return [RevenueAlert.Severity.INFO, RevenueAlert.Severity.WARNING, RevenueAlert.Severity.CRITICAL].index(severity)


@transaction.atomic
def alert_acknowledge(*, alert: RevenueAlert, user=None, note: str = "") -> RevenueAlert:
    """Someone is on it. Only an open alert can be acknowledged; anything else is left as it is."""
    if alert.status == RevenueAlert.Status.OPEN:
        alert.status = RevenueAlert.Status.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.acknowledge_note = note
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledge_note"])
    return alert


@transaction.atomic
def alert_close(*, alert: RevenueAlert, status: str, user=None, note: str = "") -> RevenueAlert:
    """Resolve or dismiss. A recurrence of the condition then raises a new alert.

    Closing an alert that is already closed changes nothing (who closed it first stays on record).
    """
    if status not in (RevenueAlert.Status.RESOLVED, RevenueAlert.Status.DISMISSED):
        raise ValueError(f"cannot close an alert as '{status}'")
    if alert.status not in RevenueAlert.ACTIVE_STATUSES:
        return alert
    alert.status = status
    alert.resolved = True
    alert.resolved_at = timezone.now()
    alert.resolved_by = user
    alert.resolution_note = note
    alert.save(update_fields=["status", "resolved", "resolved_at", "resolved_by", "resolution_note"])
    return alert


# --- Evaluation: detectors -> alerts -------------------------------------------------------------------


@dataclass
class EvaluationResult:
    raised: list[RevenueAlert] = field(default_factory=list)
    updated: list[RevenueAlert] = field(default_factory=list)
    capped: list[str] = field(default_factory=list)  # fingerprints held back by a rule's daily cap
    closed: list[str] = field(default_factory=list)  # fingerprints whose alert was already resolved/dismissed


def _duplicate_window() -> timedelta:
    # capped at a day: the selectors look no further than revenue.duplicates.DUPLICATE_HORIZON
    return duplicate_window()


def _anomaly_policy() -> AnomalyPolicy:
    return AnomalyPolicy(
        min_deviation_major=settings.ALERTS_ANOMALY_MIN_DEVIATION, forecast_interval=settings.ALERTS_ANOMALY_INTERVAL
    )


@transaction.atomic
def condition_raise(
    *,
    condition: Condition,
    now: datetime,
    result: EvaluationResult,
    rule: AlertRule | None = None,
) -> RevenueAlert | None:
    """Turn a detected condition into an alert, keeping alerts rare.

    - an active alert with the fingerprint is updated (occurrences + 1), never duplicated;
    - a fingerprint names one episode (a day, an event, one silence): once a person resolved or
      dismissed it, it stays closed (unless `condition.reopen_closed`: the fingerprint is not
      episode-bound and the detector only reports what is new since the last close);
    - a rule raises at most `max_alerts_per_day` new alerts per business day.
    """
    fingerprint = condition.fingerprint
    active = selectors.fingerprint_active(fingerprint=fingerprint)
    if not active and not condition.reopen_closed and selectors.fingerprint_closed(fingerprint=fingerprint):
        result.closed.append(fingerprint)
        return None
    if not active and rule is not None:
        start, end = day_bounds(business_date_of(now))
        if selectors.rule_alerts_created_between(rule_id=rule.pk, start=start, end=end) >= rule.max_alerts_per_day:
            logger.info(
                "rule %s reached its cap of %s alerts today; held back %s",
                rule.pk,
                rule.max_alerts_per_day,
                fingerprint,
            )
            result.capped.append(fingerprint)
            return None
    entity = Entity.objects.filter(pk=condition.entity_id).first() if condition.entity_id else None
    alert, created = alert_raise(
        alert_type=condition.alert_type,
        severity=condition.severity,
        message=condition.message,
        fingerprint=fingerprint,
        metadata=condition.metadata,
        entity=entity,
        rule=rule,
        now=now,
    )
    (result.raised if created else result.updated).append(alert)
    return alert


def _evaluate_rule(*, rule: AlertRule, now: datetime, result: EvaluationResult) -> None:
    kinds = AlertRule.Kind
    scope = selectors.Scope.of_rule(rule)
    today = business_date_of(now)
    conditions: list[Condition | None] = []
    if rule.kind == kinds.DAILY_ABOVE:
        for day, complete in ((today - timedelta(days=1), True), (today, False)):
            total = selectors.daily_net(day=day, scope=scope)
            conditions.append(detectors.detect_daily_threshold(rule=rule, total=total, complete=complete))
    elif rule.kind == kinds.DAILY_BELOW:  # only a finished day can be "below"
        total = selectors.daily_net(day=today - timedelta(days=1), scope=scope)
        conditions.append(detectors.detect_daily_threshold(rule=rule, total=total, complete=True))
    elif rule.kind == kinds.TRANSACTION_ABOVE:  # the per-write check is the fast path; this is the net
        for event in selectors.transactions_above(rule=rule, since=now - timedelta(days=1), until=now):
            conditions.append(detectors.detect_large_transaction(rule=rule, event=event))
    elif rule.kind in AlertRule.RATE_KINDS:
        start, end, first_day, last_day = detectors.rate_window(rule=rule, now=now)
        counts = selectors.rate_counts(start=start, end=end, scope=scope)
        conditions.append(detectors.detect_rate(rule=rule, counts=counts, first_day=first_day, last_day=last_day))
    elif rule.kind == kinds.SILENCE:
        last_event = selectors.last_event_before(scope=scope, until=now)
        baseline = None
        if last_event is not None and rule.expect_from_baseline:
            windows = detectors.silence_baseline_windows(now=now, hours=rule.silence_hours)
            baseline = selectors.window_counts(scope=scope, windows=windows)
        conditions.append(detectors.detect_silence(rule=rule, now=now, last_event=last_event, baseline_counts=baseline))
    for condition in conditions:
        if condition is not None:
            condition_raise(condition=condition, now=now, result=result, rule=rule)


def _evaluate_anomalies(*, now: datetime, result: EvaluationResult) -> None:
    """Yesterday (the last complete business day) against the forecast fitted before it (forecasts);
    a series without one (short history) against the trailing same weekdays."""
    day = business_date_of(now) - timedelta(days=1)
    policy = _anomaly_policy()
    names = selectors.entity_names()
    expected = day_forecasts(day=day)
    conditions: list[Condition | None] = []
    if expected:
        nets = day_nets(day=day)
        for key, forecast in expected.items():
            net, count = nets.get(key, (0, 0))
            conditions.append(
                detectors.detect_forecast_anomaly(
                    day=day,
                    expected=forecast,
                    actual=net,
                    row_count=count,
                    entity_name=names.get(forecast.entity_id, "?"),
                    policy=policy,
                )
            )
    for series in selectors.same_weekday_series(day=day, weeks=policy.weeks):
        if (series.entity_id, series.currency) not in expected:
            conditions.append(
                detectors.detect_anomaly(
                    series=series, day=day, entity_name=names.get(series.entity_id, "?"), policy=policy
                )
            )
    for condition in conditions:
        if condition is not None:
            condition_raise(condition=condition, now=now, result=result)


def _evaluate_duplicates(*, now: datetime, result: EvaluationResult) -> None:
    """Payments recorded in the last day (the per-write check's safety net)."""
    window = _duplicate_window()
    rows, recent_ids = selectors.duplicate_neighbourhoods(since=now - timedelta(days=1), until=now)
    seen: set[str] = set()
    for event, matches in detectors.duplicate_clusters(rows=rows, recent_ids=recent_ids, window=window):
        condition = detectors.detect_duplicate(event=event, candidates=matches, window=window)
        if condition is not None and condition.fingerprint not in seen:
            seen.add(condition.fingerprint)
            condition_raise(condition=condition, now=now, result=result)


def _evaluate_unresolved(*, now: datetime, result: EvaluationResult) -> None:
    since = selectors.last_closed_at(fingerprint=detectors.UNRESOLVED_FINGERPRINT)
    condition = detectors.detect_unresolved(summary=selectors.unresolved_entity_events(since=since))
    if condition is not None:
        condition_raise(condition=condition, now=now, result=result)


# Detectors that outer apps register (they may read their own tables; alerts must not import them):
# each takes `now` and returns Conditions, e.g. integrations' delivery failures.
ExternalDetector = Callable[[datetime], list[Condition]]
_external_detectors: list[ExternalDetector] = []


def alert_detector_register(detector: ExternalDetector) -> None:
    if detector not in _external_detectors:
        _external_detectors.append(detector)


def _evaluate_external(*, now: datetime, result: EvaluationResult) -> None:
    for detector in _external_detectors:
        try:
            conditions = detector(now)
        except Exception:
            logger.exception("alert detector %s failed", getattr(detector, "__name__", detector))
            continue
        for condition in conditions:
            condition_raise(condition=condition, now=now, result=result)


def alerts_evaluate(*, now: datetime | None = None) -> EvaluationResult:
    """The beat's pass over everything: rules, anomalies, duplicates, unresolved entities, and the
    detectors outer apps registered (delivery failures).

    Each alert is written in its own transaction, so one failing rule does not hold back the others.
    """
    now = now or timezone.now()
    result = EvaluationResult()
    for rule in selectors.rules_active():
        try:
            _evaluate_rule(rule=rule, now=now, result=result)
        except Exception:
            logger.exception("alert rule %s (%s) failed to evaluate", rule.pk, rule.name)
    for step in (_evaluate_anomalies, _evaluate_duplicates, _evaluate_unresolved, _evaluate_external):
        try:
            step(now=now, result=result)
        except Exception:
            logger.exception("alert detector %s failed", step.__name__)
    return result


def alerts_evaluate_event(*, event_id: str, now: datetime | None = None) -> EvaluationResult:
    """Cheap checks for one new ledger row (by its event_id): large transaction, duplicate, unresolved entity."""
    return alerts_evaluate_events(event_ids=[event_id], now=now)


def alerts_evaluate_events(*, event_ids: list[str], now: datetime | None = None) -> EvaluationResult:
    """The per-write checks for new ledger rows (a booked batch): each scope's rules loaded once, the
    duplicate candidates of every row in one query, the unresolved-entity pass once."""
    now = now or timezone.now()
    result = EvaluationResult()
    events = selectors.events_by_event_ids(event_ids)
    if not events:
        return result
    rules: dict[tuple[int, str, str], list[AlertRule]] = {}
    window = _duplicate_window()
    neighbours: dict[object, list[RevenueEvent]] = {}
    for new, other in duplicate_candidates(event_ids=[event.event_id for event in events]):
        neighbours.setdefault(new.pk, []).append(other)
    for event in events:
        scope = (event.entity_id, event.provider, event.currency)
        if scope not in rules:
            rules[scope] = selectors.rules_for_event(event=event, kind=AlertRule.Kind.TRANSACTION_ABOVE)
        for rule in rules[scope]:
            condition = detectors.detect_large_transaction(rule=rule, event=event)
            if condition is not None:
                condition_raise(condition=condition, now=now, result=result, rule=rule)
        condition = detectors.detect_locked_period_arrival(event=event)
        if condition is not None:
            condition_raise(condition=condition, now=now, result=result)
        matches = detectors.duplicate_matches(event=event, neighbours=neighbours.get(event.pk, []), window=window)
        condition = detectors.detect_duplicate(event=event, candidates=matches, window=window)
        if condition is not None:
            condition_raise(condition=condition, now=now, result=result)
    if any(event.entity_source == RevenueEvent.EntitySource.UNRESOLVED for event in events):
        _evaluate_unresolved(now=now, result=result)
    return result
    for rule in selectors.rules_for_event(event=event, kind=AlertRule.Kind.TRANSACTION_ABOVE):
        condition = detectors.detect_large_transaction(rule=rule, event=event)
        if condition is not None:
            condition_raise(condition=condition, now=now, result=result, rule=rule)
    window = _duplicate_window()
    matches = detectors.duplicate_matches(
        event=event, neighbours=[other for _, other in duplicate_candidates(event_ids=[event.event_id])], window=window
    )
    condition = detectors.detect_duplicate(event=event, candidates=matches, window=window)
    if condition is not None:
        condition_raise(condition=condition, now=now, result=result)
    if event.entity_source == RevenueEvent.EntitySource.UNRESOLVED:
        _evaluate_unresolved(now=now, result=result)
    return result
