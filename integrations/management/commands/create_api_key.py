"""Issue an Atlas API key. The key is printed once, alone on the last line."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from revenue.errors import ApplicationError

from ...services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key: --name NAME --scopes read,subscribe [--expires-days N]. Prints the key once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", required=True, help="Comma-separated: read, subscribe.")
        parser.add_argument("--expires-days", type=int, default=None)

    def handle(self, *args, name: str, scopes: str, expires_days: int | None, **options):
        if expires_days is not None and expires_days <= 0:
            raise CommandError("--expires-days must be a positive number of days")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            key, raw = api_key_create(name=name, scopes=scopes.split(","), expires_at=expires_at)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        expiry = key.expires_at.isoformat() if key.expires_at else "never"
        self.stdout.write(
            f"Created API key '{key.name}' ({key.prefix}…), scopes {','.join(key.scopes)}, expires {expiry}.\n"
            "Store it now: it is kept only as a hash and cannot be shown again."
        )
        self.stdout.write(raw)
