"""Per-connection setup for the append-only guard (see migration 0002)."""

from django.conf import settings
from django.db.backends.signals import connection_created
from django.dispatch import receiver


@receiver(connection_created)
def allow_ledger_edits_outside_safe_mode(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql" and not settings.SAFE_MODE:
        with connection.cursor() as cursor:
            cursor.execute("SET branchberg.ledger_writable = 'on'")
