"""Each detector with data that should fire and data that should not, on the real ledger service."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from alerts import selectors
from alerts.detectors import robust_baseline
from alerts.models import AlertRule, RevenueAlert
from alerts.services import alerts_evaluate, alerts_evaluate_event, alerts_evaluate_events
from revenue.models import RevenueEvent

from .factories import central, record, rule

pytestmark = pytest.mark.django_db

WEDNESDAY = date(2026, 10, 14)
SUNDAY = date(2026, 10, 18)


def alerts_of(alert_type: str) -> list[RevenueAlert]:
    return list(RevenueAlert.objects.filter(alert_type=alert_type).order_by("created_at"))


def history(day: date, *, weeks: int, amounts: list[int], hours=(10, 14), provider="stripe") -> None:
    """Payments on the `weeks` same weekdays before `day` (amounts cycle per week)."""
    for k in range(1, weeks + 1):
        for hour in hours:
            record(
                amount_cents=amounts[k % len(amounts)] // len(hours),
                occurred_at=central(day - timedelta(weeks=k), hour),
                provider=provider,
            )


# --- robust baseline ---------------------------------------------------------------------------------


def test_median_and_mad_ignore_one_outlier_week():
    median, mad = robust_baseline([100, 102, 98, 101, 99, 100, 5000, 100])
    assert median == Decimal(100)
    assert mad == Decimal(1)


# --- anomaly ---------------------------------------------------------------------------------------


def test_anomaly_fires_on_a_spike_against_the_same_weekday():
    history(WEDNESDAY, weeks=8, amounts=[100_000, 104_000, 96_000, 102_000])
    record(amount_cents=300_000, occurred_at=central(WEDNESDAY, 9))
    record(amount_cents=300_000, occurred_at=central(WEDNESDAY, 15))

    alerts_evaluate(now=central(WEDNESDAY + timedelta(days=1), 8))

    [alert] = alerts_of("anomaly")
    assert alert.severity == "warning"
    assert alert.metadata["day"] == "2026-10-14"
    assert alert.metadata["net_cents"] == 600_000
    assert "6,000.00 USD" in alert.message
    assert "above the usual Wednesday" in alert.message
    assert "median 1,010.00 USD over the last 8 Wednesdays" in alert.message
    assert alert.entity.is_default


def test_anomaly_fires_on_a_drop_and_points_at_the_webhook_logs():
    history(WEDNESDAY, weeks=8, amounts=[100_000, 104_000, 96_000, 102_000])
    record(amount_cents=5_000, occurred_at=central(WEDNESDAY, 9))

    alerts_evaluate(now=central(WEDNESDAY + timedelta(days=1), 8))

    [alert] = alerts_of("anomaly")
    assert "50.00 USD" in alert.message and "below the usual Wednesday" in alert.message
    assert "webhook delivery logs" in alert.message


def test_anomaly_does_not_fire_on_an_ordinary_day():
    history(WEDNESDAY, weeks=8, amounts=[100_000, 104_000, 96_000, 102_000])
    record(amount_cents=103_000, occurred_at=central(WEDNESDAY, 11))

    alerts_evaluate(now=central(WEDNESDAY + timedelta(days=1), 8))

    assert alerts_of("anomaly") == []


def test_anomaly_needs_four_weeks_of_history():
    history(WEDNESDAY, weeks=3, amounts=[100_000])
    record(amount_cents=900_000, occurred_at=central(WEDNESDAY, 11))

    alerts_evaluate(now=central(WEDNESDAY + timedelta(days=1), 8))

    assert alerts_of("anomaly") == []


def test_anomaly_needs_a_minimum_absolute_deviation():
    """Statistically wild but only 50 USD: not worth anyone's morning."""
    history(WEDNESDAY, weeks=8, amounts=[1_000, 1_010, 990])
    record(amount_cents=6_000, occurred_at=central(WEDNESDAY, 11))

    alerts_evaluate(now=central(WEDNESDAY + timedelta(days=1), 8))

    assert alerts_of("anomaly") == []


def test_anomaly_never_mixes_currencies():
    """A big EUR day does not make the USD day anomalous, and EUR has its own (too short) history."""
    history(WEDNESDAY, weeks=8, amounts=[100_000, 101_000])
    record(amount_cents=100_500, occurred_at=central(WEDNESDAY, 11))
    record(amount_cents=900_000, currency="EUR", occurred_at=central(WEDNESDAY, 12))

    alerts_evaluate(now=central(WEDNESDAY + timedelta(days=1), 8))

    assert alerts_of("anomaly") == []


def _busy_weekdays_quiet_sundays(sunday: date) -> None:
    for k in range(0, 9):
        monday = sunday - timedelta(days=6) - timedelta(weeks=k)
        for offset in range(5):  # Monday..Friday, 09:00-17:00 every two hours
            for hour in (9, 11, 13, 15, 17):
                record(amount_cents=40_000, occurred_at=central(monday + timedelta(days=offset), hour))
    record(amount_cents=2_000, occurred_at=central(sunday - timedelta(weeks=3), 12))  # one Sunday sale in 8


def test_quiet_sunday_raises_neither_anomaly_nor_silence():
    _busy_weekdays_quiet_sundays(SUNDAY)
    rule(kind=AlertRule.Kind.SILENCE, provider="stripe", silence_hours=6, expect_from_baseline=True)

    alerts_evaluate(now=central(SUNDAY, 15))  # silent since Friday 17:00, but Sundays are quiet
    alerts_evaluate(now=central(SUNDAY + timedelta(days=1), 8))  # Monday morning judges Sunday

    assert alerts_of("anomaly") == []
    assert alerts_of("silence") == []


def test_silence_fires_on_a_weekday_when_the_same_hours_usually_have_events():
    _busy_weekdays_quiet_sundays(SUNDAY)
    wednesday = SUNDAY + timedelta(days=3)
    record(amount_cents=40_000, occurred_at=central(wednesday, 7))
    silence = rule(
        kind=AlertRule.Kind.SILENCE, name="Stripe webhooks", provider="stripe", silence_hours=6, severity="critical"
    )

    alerts_evaluate(now=central(wednesday, 14))

    [alert] = alerts_of("silence")
    assert alert.rule == silence and alert.severity == "critical"
    assert "No Stripe events" in alert.message and "in 7 h" in alert.message
    assert "2026-10-21 07:00 CDT" in alert.message
    assert "had events on 8 of the last 8 Wednesdays" in alert.message
    assert "webhook delivery log" in alert.message


def test_silence_does_not_fire_before_the_allowed_hours_have_passed():
    _busy_weekdays_quiet_sundays(SUNDAY)
    wednesday = SUNDAY + timedelta(days=3)
    record(amount_cents=40_000, occurred_at=central(wednesday, 10))
    rule(kind=AlertRule.Kind.SILENCE, provider="stripe", silence_hours=6)

    alerts_evaluate(now=central(wednesday, 14))

    assert alerts_of("silence") == []


def test_silence_with_a_schedule_and_no_baseline():
    wednesday = date(2026, 10, 21)
    record(amount_cents=1_000, occurred_at=central(wednesday, 8), provider="gumroad")
    rule(
        kind=AlertRule.Kind.SILENCE,
        provider="gumroad",
        silence_hours=2,
        expect_from_baseline=False,
        weekdays=[0, 1, 2, 3, 4],
        active_from_hour=9,
        active_to_hour=17,
    )

    alerts_evaluate(now=central(wednesday, 20))  # outside the hours
    alerts_evaluate(now=central(wednesday + timedelta(days=3), 12))  # Saturday
    assert alerts_of("silence") == []

    alerts_evaluate(now=central(wednesday, 12))
    [alert] = alerts_of("silence")
    assert "No Gumroad events" in alert.message and "the rule expects events at this time" in alert.message


def test_silence_ignores_manual_entries_unless_the_rule_names_manual():
    wednesday = date(2026, 10, 21)
    record(amount_cents=1_000, occurred_at=central(wednesday, 6), provider="stripe")
    record(amount_cents=1_000, occurred_at=central(wednesday, 11), provider="manual", event_type="manual")
    rule(kind=AlertRule.Kind.SILENCE, silence_hours=3, expect_from_baseline=False)

    alerts_evaluate(now=central(wednesday, 12))

    [alert] = alerts_of("silence")
    assert "No webhook events" in alert.message


# --- DST: the week containing Sunday 2026-11-01 (25 hours in Chicago) --------------------------------

DST_SUNDAY = date(2026, 11, 1)


def test_daily_net_uses_the_25_hour_business_day():
    record(amount_cents=1, occurred_at=central(DST_SUNDAY - timedelta(days=1), 23, 59))  # Saturday
    record(amount_cents=10, occurred_at=central(DST_SUNDAY, 0, 30))
    record(amount_cents=100, occurred_at=central(DST_SUNDAY, 1, 30, fold=0))  # 01:30 CDT
    record(amount_cents=1_000, occurred_at=central(DST_SUNDAY, 1, 30, fold=1))  # 01:30 CST, an hour later
    record(amount_cents=10_000, occurred_at=central(DST_SUNDAY, 23, 30))  # 05:30 UTC on Monday
    record(amount_cents=100_000, occurred_at=central(DST_SUNDAY + timedelta(days=1), 0, 15))

    sunday = selectors.daily_net(day=DST_SUNDAY, scope=selectors.Scope())
    assert (sunday.net_cents, sunday.event_count) == (11_110, 4)
    assert selectors.daily_net(day=DST_SUNDAY + timedelta(days=1), scope=selectors.Scope()).net_cents == 100_000

    [series] = selectors.same_weekday_series(day=DST_SUNDAY, weeks=1)
    assert series.nets == {DST_SUNDAY: 11_110}
    assert series.counts[DST_SUNDAY] == 4


def _late_and_early_sales(day: date, weeks: int) -> None:
    """Sales at 00:30 and 23:30 local: a day boundary off by one hour moves half a day's money."""
    for k in range(weeks + 1):
        current = day - timedelta(weeks=k)
        record(amount_cents=50_000, occurred_at=central(current, 0, 30))
        record(amount_cents=50_000, occurred_at=central(current, 23, 30))


def test_dst_week_ordinary_days_do_not_fire():
    _late_and_early_sales(DST_SUNDAY, weeks=8)
    _late_and_early_sales(DST_SUNDAY + timedelta(days=1), weeks=8)
    record(amount_cents=50_000, occurred_at=central(DST_SUNDAY, 1, 30, fold=1))  # the repeated hour
    record(amount_cents=-50_000, kind="refund", event_type="charge.refunded", occurred_at=central(DST_SUNDAY, 1, 45))

    alerts_evaluate(now=central(DST_SUNDAY + timedelta(days=1), 8))  # judges the 25-hour Sunday
    alerts_evaluate(now=central(DST_SUNDAY + timedelta(days=2), 8))  # judges Monday, first CST day

    assert alerts_of("anomaly") == []


def test_dst_week_spike_fires_for_the_right_day():
    tuesday = DST_SUNDAY + timedelta(days=2)
    _late_and_early_sales(tuesday, weeks=8)
    record(amount_cents=700_000, occurred_at=central(tuesday, 23, 45))

    alerts_evaluate(now=central(tuesday, 23, 59))  # Tuesday is not over: nothing judged yet
    assert alerts_of("anomaly") == []
    alerts_evaluate(now=central(tuesday + timedelta(days=1), 6))

    [alert] = alerts_of("anomaly")
    assert alert.metadata["day"] == "2026-11-03"
    assert alert.metadata["net_cents"] == 800_000
    assert "8,000.00 USD" in alert.message and "median 1,000.00 USD" in alert.message


# --- threshold rules ----------------------------------------------------------------------------------


def test_daily_above_fires_on_the_day_in_progress_per_currency():
    big_day = rule(kind=AlertRule.Kind.DAILY_ABOVE, name="Big day", currency="USD", amount_cents=100_000)
    for hour in (9, 10, 11):
        record(amount_cents=40_000, occurred_at=central(WEDNESDAY, hour))
    record(amount_cents=900_000, currency="EUR", occurred_at=central(WEDNESDAY, 9))

    alerts_evaluate(now=central(WEDNESDAY, 18))

    [alert] = alerts_of("threshold")
    assert alert.rule == big_day
    assert "1,200.00 USD on Wed 2026-10-14 so far (3 ledger rows)" in alert.message
    assert "above the 1,000.00 USD threshold of rule 'Big day'" in alert.message


def test_daily_above_does_not_fire_at_or_under_the_amount():
    rule(kind=AlertRule.Kind.DAILY_ABOVE, currency="USD", amount_cents=120_000)
    for hour in (9, 10, 11):
        record(amount_cents=40_000, occurred_at=central(WEDNESDAY, hour))
    record(amount_cents=500_000, currency="EUR", occurred_at=central(WEDNESDAY, 9))

    alerts_evaluate(now=central(WEDNESDAY, 18))

    assert alerts_of("threshold") == []


def test_daily_below_judges_finished_days_on_its_weekdays_only(entities):
    legacy = entities["legacy-unchained"]
    rule(
        kind=AlertRule.Kind.DAILY_BELOW,
        name="Slow weekday",
        entity=legacy,
        currency="USD",
        amount_cents=50_000,
        weekdays=[0, 1, 2, 3, 4],
    )
    monday = date(2026, 10, 12)
    record(amount_cents=10_000, occurred_at=central(monday, 10), entity_hint=legacy.slug)

    alerts_evaluate(now=central(monday, 20))  # Monday still running: not judged
    alerts_evaluate(now=central(SUNDAY + timedelta(days=1), 8))  # yesterday was a Sunday: not a rule day
    assert alerts_of("threshold") == []

    alerts_evaluate(now=central(monday + timedelta(days=1), 8))
    [alert] = alerts_of("threshold")
    assert alert.entity == legacy
    assert "100.00 USD on Mon 2026-10-12 (1 ledger row), below the 500.00 USD minimum" in alert.message


def test_single_transaction_above_on_write():
    rule(
        kind=AlertRule.Kind.TRANSACTION_ABOVE,
        name="Large payment",
        currency="USD",
        amount_cents=500_000,
        severity="critical",
    )
    big = record(amount_cents=600_000, customer_email="buyer@example.com")
    small = record(amount_cents=400_000)
    yen = record(amount_cents=900_000, currency="JPY")

    for event in (small, yen):
        assert alerts_evaluate_event(event_id=event.event_id).raised == []
    [alert] = alerts_evaluate_event(event_id=big.event_id).raised

    assert alert.severity == "critical" and alert.alert_type == "threshold"
    assert f"Single payment of 6,000.00 USD ({big.event_id}, Stripe, buyer@example.com" in alert.message
    assert "above the 5,000.00 USD threshold of rule 'Large payment'" in alert.message


def test_a_batch_of_writes_is_checked_like_each_write(django_assert_max_num_queries):
    """alerts.evaluate_events (one task per booked batch) raises what one check per row raises,
    with the rules of each scope and the duplicate candidates loaded once."""
    rule(kind=AlertRule.Kind.TRANSACTION_ABOVE, name="Large", currency="USD", amount_cents=500_000)
    big = record(amount_cents=600_000)
    first = record(amount_cents=4_900, customer_email="jane@example.com", occurred_at=central(WEDNESDAY, 10))
    second = record(amount_cents=4_900, customer_email="jane@example.com", occurred_at=central(WEDNESDAY, 10, 3))
    quiet = [record(amount_cents=100 + n) for n in range(60)]
    ids = [event.event_id for event in [*quiet, big, first, second]]

    with django_assert_max_num_queries(41):  # the same for 3 or 63 rows: two alerts raised, nothing per row
        result = alerts_evaluate_events(event_ids=ids)

    assert sorted(alert.alert_type for alert in result.raised) == ["duplicate", "threshold"]
    assert RevenueAlert.objects.get(alert_type="duplicate").occurrences == 2  # both rows of the pair found it
    assert big.event_id in RevenueAlert.objects.get(alert_type="threshold").message


def test_evaluate_event_for_an_unknown_event_id_does_nothing():
    assert alerts_evaluate_event(event_id="stripe:pi_does_not_exist").raised == []


def _payments_and(kind: str, count: int, *, payments: int = 20) -> None:
    for n in range(payments):
        record(amount_cents=10_000, occurred_at=central(WEDNESDAY - timedelta(days=n % 7), 10))
    for n in range(count):
        record(
            amount_cents=-10_000,
            kind=kind,
            event_type=f"charge.{kind}",
            occurred_at=central(WEDNESDAY - timedelta(days=n), 11),
        )


def test_refund_rate_above_fires_with_enough_payments():
    rule(kind=AlertRule.Kind.REFUND_RATE_ABOVE, name="Refunds", rate_percent=Decimal("10"), minimum_events=10)
    rule(kind=AlertRule.Kind.REFUND_RATE_ABOVE, name="Needs 50", rate_percent=Decimal("10"), minimum_events=50)
    rule(kind=AlertRule.Kind.REFUND_RATE_ABOVE, name="Lenient", rate_percent=Decimal("20"))
    _payments_and("refund", 3)

    alerts_evaluate(now=central(WEDNESDAY, 18))

    [alert] = alerts_of("threshold")
    assert alert.rule.name == "Refunds"
    assert "Refund rate for all entities, all providers is 15.00% over the 7 days 2026-10-08 to 2026-10-14" in (
        alert.message
    )
    assert "(3 refunds against 20 payments), above the 10.00% limit" in alert.message


def test_dispute_rate_above():
    rule(kind=AlertRule.Kind.DISPUTE_RATE_ABOVE, name="Disputes", rate_percent=Decimal("1"), window_days=30)
    _payments_and("dispute", 1)
    alerts_evaluate(now=central(WEDNESDAY, 18))
    [alert] = alerts_of("threshold")
    assert "Dispute rate" in alert.message and "5.00%" in alert.message


def test_dispute_rate_ignores_disputes_outside_the_window():
    rule(kind=AlertRule.Kind.DISPUTE_RATE_ABOVE, rate_percent=Decimal("1"), window_days=3)
    for _ in range(20):
        record(amount_cents=10_000, occurred_at=central(WEDNESDAY, 10))
    record(
        amount_cents=-10_000,
        kind="dispute",
        event_type="charge.dispute.created",
        occurred_at=central(WEDNESDAY - timedelta(days=5), 10),
    )
    alerts_evaluate(now=central(WEDNESDAY, 18))
    assert alerts_of("threshold") == []


# --- duplicates -----------------------------------------------------------------------------------


def test_same_customer_and_amount_within_minutes_is_a_suspected_duplicate():
    first = record(amount_cents=4_900, customer_email="jane@example.com", occurred_at=central(WEDNESDAY, 10))
    second = record(
        amount_cents=4_900,
        customer_email="Jane@Example.com",
        provider="gumroad",
        event_type="sale",
        occurred_at=central(WEDNESDAY, 10, 3),
    )

    [alert] = alerts_evaluate_event(event_id=second.event_id).raised

    assert alert.alert_type == "duplicate"
    assert "2 payments of 49.00 USD from Jane@Example.com within 3 minutes" in alert.message
    assert first.event_id in alert.message and second.event_id in alert.message
    assert sorted(alert.metadata["event_ids"]) == sorted([first.event_id, second.event_id])
    # checking the other row finds the same condition: one alert
    assert alerts_evaluate_event(event_id=first.event_id).raised == []
    assert RevenueAlert.objects.get().occurrences == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"occurred_at": central(WEDNESDAY, 10, 30)},  # too far apart
        {"amount_cents": 5_000},  # different amount
        {"currency": "EUR"},  # different currency
        {"customer_email": "someone.else@example.com"},  # different customer
    ],
)
def test_not_a_duplicate(overrides):
    record(amount_cents=4_900, customer_email="jane@example.com", occurred_at=central(WEDNESDAY, 10))
    values = {"amount_cents": 4_900, "customer_email": "jane@example.com", "occurred_at": central(WEDNESDAY, 10, 3)}
    second = record(**(values | overrides))

    assert alerts_evaluate_event(event_id=second.event_id).raised == []


def test_manual_entry_matching_a_provider_payment_on_the_same_business_day():
    stripe = record(amount_cents=120_000, customer_email="ap@acme.test", occurred_at=central(WEDNESDAY, 16))
    manual = record(
        provider="manual",
        event_type="manual",
        amount_cents=120_000,
        customer_email="ap@acme.test",
        occurred_at=central(WEDNESDAY, 0),
        reference="PO-1001",
    )

    [alert] = alerts_evaluate_event(event_id=manual.event_id).raised

    assert "Possible double booking: a manual entry and a provider payment of 1,200.00 USD from ap@acme.test" in (
        alert.message
    )
    assert stripe.event_id in alert.message and "reverse it" in alert.message


def test_manual_entry_on_another_day_is_not_a_duplicate():
    record(amount_cents=120_000, customer_email="ap@acme.test", occurred_at=central(WEDNESDAY, 16))
    manual = record(
        provider="manual",
        event_type="manual",
        amount_cents=120_000,
        customer_email="ap@acme.test",
        occurred_at=central(WEDNESDAY + timedelta(days=1), 0),
    )
    assert alerts_evaluate_event(event_id=manual.event_id).raised == []


def test_a_reversed_row_is_no_longer_a_duplicate_candidate():
    from revenue.services import revenue_event_reverse

    first = record(amount_cents=4_900, customer_email="jane@example.com", occurred_at=central(WEDNESDAY, 10))
    revenue_event_reverse(event=first, reason="booked twice")
    second = record(amount_cents=4_900, customer_email="jane@example.com", occurred_at=central(WEDNESDAY, 10, 2))
    assert alerts_evaluate_event(event_id=second.event_id).raised == []


def test_the_beat_finds_duplicates_the_per_write_check_missed():
    record(amount_cents=4_900, customer_id="cus_1", occurred_at=central(WEDNESDAY, 10))
    record(amount_cents=4_900, customer_id="cus_1", occurred_at=central(WEDNESDAY, 10, 5))
    record(amount_cents=4_900, customer_id="cus_2", occurred_at=central(WEDNESDAY, 10, 5))

    result = alerts_evaluate()

    assert [a.alert_type for a in result.raised] == ["duplicate"]
    assert len(result.raised[0].metadata["event_ids"]) == 2


# --- unresolved entity ----------------------------------------------------------------------------


def test_unresolved_entity_raises_one_alert_that_counts_the_rows():
    ok = record(amount_cents=1_000)
    assert alerts_evaluate_event(event_id=ok.event_id).raised == []

    first = record(amount_cents=2_500, entity_hint="Nonexistent Holdings", metadata={"entity": "Nonexistent Holdings"})
    assert first.entity_source == RevenueEvent.EntitySource.UNRESOLVED
    [alert] = alerts_evaluate_event(event_id=first.event_id).raised
    assert alert.alert_type == "entity"
    assert "1 ledger row since" in alert.message and "was booked to" in alert.message
    assert "25.00 USD, hint 'Nonexistent Holdings'" in alert.message

    second = record(amount_cents=7_000, entity_hint="Nonexistent Holdings")
    assert alerts_evaluate_event(event_id=second.event_id).raised == []
    alert.refresh_from_db()
    assert alert.occurrences == 2 and "2 ledger rows since" in alert.message


def test_manual_entry_matches_within_the_25_hour_dst_day_only():
    manual = record(
        provider="manual",
        event_type="manual",
        amount_cents=50_000,
        customer_email="ap@acme.test",
        occurred_at=central(DST_SUNDAY, 0),
    )
    late_same_day = record(amount_cents=50_000, customer_email="ap@acme.test", occurred_at=central(DST_SUNDAY, 23, 30))
    next_day = record(
        amount_cents=50_000, customer_email="ap@acme.test", occurred_at=central(DST_SUNDAY + timedelta(days=1), 0, 15)
    )

    [alert] = alerts_evaluate_event(event_id=manual.event_id).raised
    assert sorted(alert.metadata["event_ids"]) == sorted([manual.event_id, late_same_day.event_id])
    assert next_day.event_id not in alert.message
