"""The 15-minute tick across both 2026 DST changes, with a frozen clock."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from revenue.models import OutboxMessage
from summaries.models import RevenueSummary
from summaries.periods import send_day
from summaries.tasks import summaries_tick

from .conftest import CHICAGO, local

pytestmark = pytest.mark.django_db


def _tick_every_15_minutes(time_machine, first: datetime, last: datetime) -> dict[date, datetime]:
    """Run the beat task on a 15-minute grid; return when each daily digest went out."""
    at = first.astimezone(UTC)
    while at <= last:
        time_machine.move_to(at, tick=False)
        summaries_tick.apply()
        at += timedelta(minutes=15)
    return {
        row.start_date: row.sent_at
        for row in RevenueSummary.objects.filter(period="daily", entity__isnull=True, sent_at__isnull=False)
    }


@pytest.mark.parametrize(
    ("first_day", "dst_day", "short_or_long"),
    [(date(2026, 3, 6), date(2026, 3, 8), 23), (date(2026, 10, 30), date(2026, 11, 1), 25)],
)
def test_one_daily_summary_per_entity_per_day_at_six_central(
    record, entities, time_machine, first_day, dst_day, short_or_long
):
    days = [first_day + timedelta(days=n) for n in range(5)]
    for day in days:
        for hour in (0, 1, 3, 12, 23):
            record(1000 + hour, datetime(day.year, day.month, day.day, hour, 30, tzinfo=CHICAGO))
    record(555, local(dst_day.year, dst_day.month, dst_day.day, 1, 45, fold=1), entity="legacy-unchained")

    first = datetime(first_day.year, first_day.month, first_day.day, 0, 0, tzinfo=CHICAGO)
    last = first + timedelta(days=5, hours=12)
    sent = _tick_every_15_minutes(time_machine, first, last)

    # A fresh installation starts with the latest due day, then one digest a day.
    expected_days = [first_day - timedelta(days=2), first_day - timedelta(days=1), *days]
    assert sorted(sent) == expected_days
    for day in days:
        went_out = sent[day].astimezone(CHICAGO)
        assert (went_out.date(), went_out.hour, went_out.minute) == (day + timedelta(days=1), 6, 0)
    rows = Counter(RevenueSummary.objects.filter(period="daily").values_list("start_date", "entity_id").order_by())
    assert set(rows.values()) == {1}  # unique: one row per (day, entity), one for all entities
    assert len(rows) == len(expected_days) * (1 + len(entities))
    assert OutboxMessage.objects.filter(topic="summary.daily").count() == len(expected_days)
    dst = RevenueSummary.objects.get(period="daily", start_date=dst_day, entity__isnull=True)
    assert dst.event_count == 6 and dst.total_amount_cents == 5 * 1000 + 0 + 1 + 3 + 12 + 23 + 555
    start, end = (
        datetime.combine(d, datetime.min.time(), tzinfo=CHICAGO).astimezone(UTC)
        for d in (dst_day, dst_day + timedelta(1))
    )
    assert end - start == timedelta(hours=short_or_long)


@pytest.mark.parametrize(
    ("five_fifty_nine_utc", "six_utc"),
    [
        # Monday after the 23-hour day: 06:00 CDT = 11:00 UTC.
        (datetime(2026, 3, 9, 10, 59, tzinfo=UTC), datetime(2026, 3, 9, 11, 0, tzinfo=UTC)),
        # Monday after the 25-hour day: 06:00 CST = 12:00 UTC.
        (datetime(2026, 11, 2, 11, 59, tzinfo=UTC), datetime(2026, 11, 2, 12, 0, tzinfo=UTC)),
    ],
)
def test_due_at_six_not_five_fifty_nine(record, time_machine, five_fifty_nine_utc, six_utc):
    yesterday = send_day(six_utc) - timedelta(days=1)
    record(4200, datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=CHICAGO))
    # Earlier periods were sent on time.
    time_machine.move_to(five_fifty_nine_utc - timedelta(days=1), tick=False)
    summaries_tick.apply()
    time_machine.move_to(five_fifty_nine_utc, tick=False)
    summaries_tick.apply()  # Saturday's digest, due since Sunday 06:00, is sent; Sunday's is not yet due
    assert not RevenueSummary.objects.filter(start_date=yesterday, period="daily", sent_at__isnull=False).exists()
    before = set(
        RevenueSummary.objects.filter(sent_at__isnull=False, entity__isnull=True).values_list("period", "start_date")
    )

    time_machine.move_to(six_utc, tick=False)
    ids = summaries_tick.apply().get()
    sent = (
        set(
            RevenueSummary.objects.filter(sent_at__isnull=False, entity__isnull=True).values_list(
                "period", "start_date"
            )
        )
        - before
    )
    monday_week = yesterday - timedelta(days=6)
    assert sent == {("daily", yesterday), ("weekly", monday_week)}  # Monday: the week Mon-Sun too
    assert len(ids) == 2
    assert (
        RevenueSummary.objects.get(period="daily", start_date=yesterday, entity__isnull=True).total_amount_cents == 4200
    )


def test_monthly_on_the_first_at_six(record, time_machine):
    record(9900, local(2026, 10, 15, 12))
    record(100, local(2026, 11, 1, 0, 30))  # belongs to November
    time_machine.move_to(datetime(2026, 10, 31, 12, 0, tzinfo=UTC), tick=False)
    summaries_tick.apply()
    time_machine.move_to(datetime(2026, 11, 1, 11, 59, tzinfo=UTC), tick=False)  # 05:59 CST on Nov 1
    summaries_tick.apply()
    assert not RevenueSummary.objects.filter(
        period="monthly", start_date=date(2026, 10, 1), sent_at__isnull=False
    ).exists()
    time_machine.move_to(datetime(2026, 11, 1, 12, 0, tzinfo=UTC), tick=False)
    summaries_tick.apply()
    october = RevenueSummary.objects.get(period="monthly", start_date=date(2026, 10, 1), entity__isnull=True)
    assert october.sent_at is not None and october.total_amount_cents == 9900
    assert october.end_date == date(2026, 10, 31)


def test_a_beat_that_was_down_catches_up_oldest_first(record, time_machine):
    time_machine.move_to(datetime(2026, 3, 6, 13, 0, tzinfo=UTC), tick=False)
    summaries_tick.apply()  # sends Mar 5
    for day in (6, 7, 8, 9):  # money keeps arriving (each row booked when it happens) while beat is down
        time_machine.move_to(local(2026, 3, day, 12, 30), tick=False)
        record(day * 100, local(2026, 3, day, 12))
    time_machine.move_to(datetime(2026, 3, 10, 15, 0, tzinfo=UTC), tick=False)  # down until Tuesday
    summaries_tick.apply()
    messages = list(OutboxMessage.objects.filter(topic="summary.daily").order_by("id"))
    assert [m.payload["start_date"] for m in messages] == [
        "2026-03-05",
        "2026-03-06",
        "2026-03-07",
        "2026-03-08",
        "2026-03-09",
    ]
    assert [m.payload["total"]["total_amount_cents"] for m in messages[1:]] == [600, 700, 800, 900]
    weekly = OutboxMessage.objects.filter(topic="summary.weekly").order_by("id")
    assert [m.payload["start_date"] for m in weekly] == ["2026-02-23", "2026-03-02"]
    summaries_tick.apply()
    assert OutboxMessage.objects.filter(topic__startswith="summary.").count() == 5 + 2 + 1


def test_tick_refuses_a_naive_instant():
    with pytest.raises(ValueError, match="aware"):
        summaries_tick.apply(kwargs={"at": "2026-03-09T06:00:00"}).get()
