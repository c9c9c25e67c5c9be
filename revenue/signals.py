"""Per-connection setup for the append-only guard (migrations 0003 and 0007), and the entity seed."""

from django.conf import settings
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(connection_created)
def allow_ledger_edits_outside_safe_mode(sender, connection, **kwargs) -> None:
    """SAFE_MODE off asks the database to allow in-place ledger edits on this connection.

    The triggers honour it for the table owner only (migration 0007): connected as the app
    role, as web and worker are in production, the ledger stays append-only regardless.
    """
    if connection.vendor == "postgresql" and not settings.SAFE_MODE:
        with connection.cursor() as cursor:
            cursor.execute("SET branchberg.ledger_writable = 'on'")


@receiver(post_migrate)
def seed_entities_when_empty(sender, app_config=None, using="default", **kwargs) -> None:
    """A database with no entity gets the two seeded ones (migrate, and `flush` between transactional tests)."""
    if app_config is None or app_config.label != "revenue":
        return
    from .models import Entity
    from .seeds import ENTITIES

    if not Entity.objects.using(using).exists():
        for row in ENTITIES:
            Entity.objects.using(using).get_or_create(slug=row["slug"], defaults=row)
