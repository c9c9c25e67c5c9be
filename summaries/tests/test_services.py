from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from revenue.errors import ApplicationError
from revenue.models import ExchangeRate, OutboxMessage
from summaries.models import RevenueSummary
from summaries.services import summary_compute, summary_figures, summary_send, summary_send_period

from .conftest import local

pytestmark = pytest.mark.django_db


def test_daily_summary_per_entity_and_for_all(record, entities):
    day = date(2026, 6, 10)
    record(125000, local(2026, 6, 10, 9), provider="stripe")
    record(50000, local(2026, 6, 10, 14), provider="gumroad")
    record(-20000, local(2026, 6, 10, 15), provider="stripe", kind="refund", event_type="refund.created")
    record(-870, local(2026, 6, 10, 15, 1), provider="stripe", kind="fee", event_type="balance_transaction")
    record(300000, local(2026, 6, 10, 23, 59, 59), entity="legacy-unchained", provider="manual")
    record(99999, local(2026, 6, 11, 0, 0), entity="legacy-unchained")  # the next day
    record(77777, local(2026, 6, 9, 23, 59, 59))  # the day before

    rows = summary_compute(cadence="daily", day=day)

    digest, aplus, legacy = rows
    assert digest.entity is None and [aplus.entity, legacy.entity] == [
        entities["aplus-enterprise"],
        entities["legacy-unchained"],
    ]
    assert (aplus.payments_cents, aplus.refunds_cents, aplus.fees_cents, aplus.net_cents) == (
        175000,
        -20000,
        -870,
        154130,
    )
    assert aplus.total_amount_cents == 154130 and aplus.event_count == 4 and aplus.payment_count == 2
    assert aplus.average_transaction_cents == 87500
    assert legacy.total_amount_cents == 300000 and legacy.event_count == 1
    assert digest.total_amount_cents == 454130 and digest.event_count == 5
    assert digest.by_provider == {
        "gumroad": {"event_count": 1, "by_currency": {"USD": 50000}},
        "manual": {"event_count": 1, "by_currency": {"USD": 300000}},
        "stripe": {"event_count": 3, "by_currency": {"USD": 104130}},
    }
    assert digest.by_kind["refund"] == {"event_count": 1, "by_currency": {"USD": -20000}}
    assert digest.by_entity["legacy-unchained"]["net_cents"] == 300000
    assert digest.by_currency["USD"]["average_transaction_cents"] == 158333  # 475000 / 3, half-even
    assert (digest.start_date, digest.end_date, digest.period) == (day, day, "daily")
    assert RevenueSummary.objects.count() == 3


def test_recompute_upserts_instead_of_adding_rows(record):
    record(1000, local(2026, 6, 10, 12))
    first = summary_compute(cadence="daily", day=date(2026, 6, 10))
    record(2500, local(2026, 6, 10, 13))
    second = summary_compute(cadence="daily", day=date(2026, 6, 10))
    assert [row.pk for row in first] == [row.pk for row in second]
    assert RevenueSummary.objects.count() == 3
    assert RevenueSummary.objects.get(entity__isnull=True).total_amount_cents == 3500


def test_currencies_are_never_added_and_conversion_states_its_rate(record):
    ExchangeRate.objects.create(currency="EUR", rate_on=date(2026, 6, 1), usd_per_unit=Decimal("1.0850"))
    record(10000, local(2026, 6, 10, 10), currency="EUR")
    record(5000, local(2026, 6, 10, 11), currency="EUR")
    record(1000, local(2026, 6, 10, 12), currency="USD")
    record(1234, local(2026, 6, 10, 13), currency="KWD")  # no rate: exact per currency, not converted
    digest = summary_compute(cadence="daily", day=date(2026, 6, 10))[0]
    assert digest.by_currency["EUR"]["net_cents"] == 15000
    assert digest.by_currency["KWD"]["net_cents"] == 1234
    assert digest.by_currency["USD"]["net_cents"] == 1000
    assert digest.total_amount_cents == 1000 + 10850 + 5425
    assert digest.unconverted_event_count == 1
    assert digest.fx["EUR"] == {
        "rates": {"rate_table": ["1.085", "1.085"]},
        "converted_event_count": 2,
        "unconverted_event_count": 0,
    }
    assert digest.fx["KWD"]["unconverted_event_count"] == 1 and digest.fx["KWD"]["rates"] == {}
    assert digest.average_transaction_cents == (1000 + 10850 + 5425) // 3  # converted payments only


def test_entities_without_events_get_a_zero_row(entities):
    rows = summary_compute(cadence="monthly", day=date(2026, 2, 14))
    assert len(rows) == 1 + len(entities)
    assert all(row.event_count == 0 and row.total_amount_cents == 0 for row in rows)
    assert rows[0].average_transaction_cents is None
    assert (rows[0].start_date, rows[0].end_date) == (date(2026, 2, 1), date(2026, 2, 28))


def test_unique_per_period_start_and_entity_including_all_entities(entities):
    summary_compute(cadence="daily", day=date(2026, 6, 10))
    with pytest.raises(IntegrityError), transaction.atomic():
        RevenueSummary.objects.create(period="daily", start_date=date(2026, 6, 10), end_date=date(2026, 6, 10))
    with pytest.raises(IntegrityError), transaction.atomic():
        RevenueSummary.objects.create(
            period="daily",
            start_date=date(2026, 6, 10),
            end_date=date(2026, 6, 10),
            entity=entities["legacy-unchained"],
        )


def test_unknown_period_is_refused():
    with pytest.raises(ApplicationError) as excinfo:
        summary_compute(cadence="hourly", day=date(2026, 6, 10))
    assert excinfo.value.code == "invalid_period"


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25)],
)
def test_dst_days_summarise_exactly_their_events(record, day, hours):
    start = datetime.combine(day, datetime.min.time(), tzinfo=local(2026, 1, 1).tzinfo).astimezone(UTC)
    end = start + timedelta(hours=hours)
    # First and last instants of the day, each hour through it (both 01:xx on Nov 1), and the neighbours.
    inside = [start, end - timedelta(microseconds=1)] + [start + timedelta(hours=h, minutes=30) for h in range(hours)]
    for n, at in enumerate(inside):
        record(100 + n, at)
    record(5000, start - timedelta(microseconds=1))
    record(7000, end)
    digest = summary_compute(cadence="daily", day=day)[0]
    assert digest.event_count == len(inside) == hours + 2
    assert digest.total_amount_cents == sum(100 + n for n in range(len(inside)))
    assert summary_compute(cadence="daily", day=day - timedelta(days=1))[0].total_amount_cents == 5000
    assert summary_compute(cadence="daily", day=day + timedelta(days=1))[0].total_amount_cents == 7000


def test_both_one_am_hours_of_the_long_day_count(record):
    record(100, local(2026, 11, 1, 1, 30, fold=0))  # 01:30 CDT = 06:30 UTC
    record(200, local(2026, 11, 1, 1, 30, fold=1))  # 01:30 CST = 07:30 UTC
    digest = summary_compute(cadence="daily", day=date(2026, 11, 1))[0]
    assert (digest.event_count, digest.total_amount_cents) == (2, 300)


def test_send_writes_one_outbox_message_and_marks_rows_sent(record, django_capture_on_commit_callbacks):
    record(125000, local(2026, 6, 10, 9))
    with django_capture_on_commit_callbacks(execute=False):
        message = summary_send_period(cadence="daily", day=date(2026, 6, 10))
        again = summary_send_period(cadence="daily", day=date(2026, 6, 10))
    assert again is None
    assert message.topic == "summary.daily"
    payload = message.payload
    assert payload["label"] == "2026-06-10" and payload["total"]["total_amount_cents"] == 125000
    assert [e["name"] for e in payload["entities"]] == ["A+ Enterprise LLC", "Legacy Unchained Inc"]
    assert payload["amendments"] == []
    assert OutboxMessage.objects.filter(topic__startswith="summary.").count() == 1
    rows = RevenueSummary.objects.filter(start_date=date(2026, 6, 10))
    assert all(row.sent_at is not None for row in rows)
    digest = rows.get(entity__isnull=True)
    assert digest.sent_snapshot == {"USD": {"net_cents": 125000, "event_count": 1}}
    assert summary_send(summary=digest) is None


def test_send_rolls_back_with_the_outbox_row(record):
    record(1000, local(2026, 6, 10, 9))
    with pytest.raises(RuntimeError), transaction.atomic():
        summary_send_period(cadence="daily", day=date(2026, 6, 10))
        raise RuntimeError("boom")
    assert not OutboxMessage.objects.filter(topic__startswith="summary.").exists()
    assert not RevenueSummary.objects.filter(sent_at__isnull=False).exists()


def test_late_events_are_an_amendment_in_the_next_digest(record, time_machine):
    time_machine.move_to(datetime(2026, 6, 11, 11, 0, tzinfo=UTC), tick=False)  # 06:00 CDT
    record(10000, local(2026, 6, 10, 9))
    summary_send_period(cadence="daily", day=date(2026, 6, 10))
    time_machine.move_to(datetime(2026, 6, 11, 18, 0, tzinfo=UTC), tick=False)
    record(2500, local(2026, 6, 10, 22), provider="gumroad")  # arrives after the digest went out
    record(-1000, local(2026, 6, 10, 23), kind="refund", event_type="refund.created")
    record(4000, local(2026, 6, 11, 10))
    time_machine.move_to(datetime(2026, 6, 12, 11, 0, tzinfo=UTC), tick=False)
    message = summary_send_period(cadence="daily", day=date(2026, 6, 11))
    assert message.payload["amendments"] == [
        {
            "period": "daily",
            "start_date": "2026-06-10",
            "end_date": "2026-06-10",
            "label": "2026-06-10",
            "entity": "aplus-enterprise",
            "entity_name": "A+ Enterprise LLC",
            "by_currency": {
                "USD": {"before_net_cents": 10000, "net_cents": 11500, "delta_net_cents": 1500, "delta_event_count": 2}
            },
        }
    ]
    amended = RevenueSummary.objects.get(period="daily", start_date=date(2026, 6, 10), entity__isnull=True)
    assert amended.total_amount_cents == 11500 and amended.amended_at is not None
    assert message.payload["total"]["total_amount_cents"] == 4000
    # Reported once: the following digest has no amendment for it.
    time_machine.move_to(datetime(2026, 6, 13, 11, 0, tzinfo=UTC), tick=False)
    assert summary_send_period(cadence="daily", day=date(2026, 6, 12)).payload["amendments"] == []


def test_late_events_in_two_sent_periods_are_both_amended(record, time_machine):
    """Two amended periods are re-reported in date order (a Period is not orderable by itself)."""
    for day in (9, 10):
        time_machine.move_to(datetime(2026, 6, day + 1, 11, 0, tzinfo=UTC), tick=False)
        record(10000, local(2026, 6, day, 9))
        summary_send_period(cadence="daily", day=date(2026, 6, day))
    time_machine.move_to(datetime(2026, 6, 11, 18, 0, tzinfo=UTC), tick=False)
    record(700, local(2026, 6, 10, 22), provider="gumroad")
    record(300, local(2026, 6, 9, 22), provider="gumroad")
    time_machine.move_to(datetime(2026, 6, 12, 11, 0, tzinfo=UTC), tick=False)
    message = summary_send_period(cadence="daily", day=date(2026, 6, 11))
    assert [(a["start_date"], a["by_currency"]["USD"]["delta_net_cents"]) for a in message.payload["amendments"]] == [
        ("2026-06-09", 300),
        ("2026-06-10", 700),
    ]


def test_summary_figures_is_pure_over_groups():
    groups = [
        {
            "entity_id": 1,
            "currency": "JPY",
            "provider": "stripe",
            "kind": "payment",
            "fx_source": "stripe_balance_transaction",
            "event_count": 2,
            "amount_cents": 5000,
            "usd_cents": 3350,
            "converted_count": 2,
            "rate_min": Decimal("0.0066"),
            "rate_max": Decimal("0.0068"),
        }
    ]
    figures = summary_figures(groups)
    assert figures["by_currency"]["JPY"]["average_transaction_cents"] == 2500
    assert figures["fx"]["JPY"]["rates"] == {"stripe_balance_transaction": ["0.0066", "0.0068"]}
    assert figures["total_amount_cents"] == 3350
    assert summary_figures([])["event_count"] == 0
