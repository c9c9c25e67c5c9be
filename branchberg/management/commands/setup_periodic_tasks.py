"""Write the beat schedule into the database (django-celery-beat), idempotently. Run at release."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

# Beat ticks often; each task decides in the business time zone what is due.
SCHEDULE = [
    ("Summaries: send what is due (06:00 Central)", "summaries.tick", 15 * 60),
    # Fits after the 06:00 summary: from 06:10 Central the tick stores last night's forecasts once.
    ("Forecasts: fit last night's revenue forecasts (06:10 Central)", "forecasts.tick", 15 * 60),
    ("Alerts: evaluate rules and detectors", "alerts.evaluate", 15 * 60),
    ("Reconciliation: auto-match and alert on stale unmatched deposits", "alerts.reconciliation_check", 60 * 60),
    ("Outbox: re-enqueue stuck messages and deliveries", "integrations.outbox_sweep", 60),
    ("Webhooks: book stored deliveries still waiting", "integrations.inbound_sweep", 60),
    # The ECB publishes around 16:00 CET on working days; hourly picks it up the same afternoon.
    ("Exchange rates: ECB reference rates, alert on rows with no rate", "alerts.exchange_rates_refresh", 60 * 60),
]


class Command(BaseCommand):
    help = "Create or update the periodic tasks (editable afterwards in admin)."

    @transaction.atomic
    def handle(self, *args, **options):
        for name, task, seconds in SCHEDULE:
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            periodic, created = PeriodicTask.objects.get_or_create(
                name=name, defaults={"task": task, "interval": interval}
            )
            if not created and periodic.task != task:
                periodic.task = task
                periodic.save()
            self.stdout.write(f"{'created' if created else 'kept'}: {name} -> {task} every {seconds}s")
