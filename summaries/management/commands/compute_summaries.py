"""manage.py compute_summaries --period daily|weekly|monthly --date D [--until D2] [--send]"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from revenue.errors import ApplicationError
from revenue.money import format_money
from revenue.periods import Cadence, periods_between
from summaries.selectors import summary_digest
from summaries.services import summary_compute, summary_send_period


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Compute (upsert) the summaries of the period containing --date, for every entity and for all "
        "entities together; with --until, every period up to that date too. With --send, send each period "
        "not sent yet (Slack, Notion, Atlas through the outbox). A sent period is never sent twice: use the "
        "Delivery admin's redeliver action to post it again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--period", dest="cadence", required=True, choices=Cadence.values)
        parser.add_argument("--date", required=True, type=_date, help="A business date inside the period.")
        parser.add_argument("--until", type=_date, help="Also every later period up to this date.")
        parser.add_argument("--send", action="store_true", help="Send the periods not sent yet.")

    def handle(self, *args, cadence: str, date: date, until: date | None, send: bool, **options):
        last = until or date
        if last < date:
            raise CommandError("--until must not be before --date")
        for target in periods_between(cadence, date, last):
            try:
                if send:
                    message = summary_send_period(cadence=cadence, day=target.first_day)
                else:
                    summary_compute(cadence=cadence, day=target.first_day)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            digest = summary_digest(cadence=cadence, start_date=target.first_day)
            nets = ", ".join(format_money(m["net_cents"], c) for c, m in digest.by_currency.items()) or "no events"
            self.stdout.write(
                f"{cadence} {target.label()}: {digest.event_count} events, net {nets} "
                f"(= {format_money(digest.total_amount_cents, digest.currency)} at stated rates)"
            )
            if send:
                if message is not None:
                    self.stdout.write(f"  sent: outbox message {message.pk} ({message.topic})")
                else:
                    self.stdout.write(f"  already sent at {digest.sent_at.isoformat()}; not sent again")
