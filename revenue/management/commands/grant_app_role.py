"""Grant the app role its rights again (run as the owner, e.g. after creating the role late)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction

from revenue.db_roles import AppRoleError, app_role_grant


class Command(BaseCommand):
    help = (
        "Grant the app role (DATABASE_APP_ROLE, or --role) SELECT and INSERT on the ledger and its audit "
        "trails and ordinary rights on every other table, as migration revenue 0007 does. Run it as the "
        "owner of the tables (DATABASE_URL=$DATABASE_OWNER_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", default="", help="The app role; default: DATABASE_APP_ROLE.")

    def handle(self, *args, role: str = "", **options):
        role = role or settings.DATABASE_APP_ROLE
        if connection.vendor != "postgresql":
            raise CommandError("Roles exist on PostgreSQL only; this database needs no grants.")
        if not role:
            raise CommandError("No app role given: set DATABASE_APP_ROLE or pass --role.")
        try:
            with transaction.atomic():
                granted = app_role_grant(connection, role)
        except AppRoleError as error:
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(
                f"The grants were refused ({error.__class__.__name__}: {str(error).strip()}); "
                "run this as the owner of the tables (DATABASE_URL=$DATABASE_OWNER_URL)."
            ) from error
        if granted:
            self.stdout.write(f"granted the app role '{role}' its rights")
        else:
            self.stdout.write(f"'{role}' is the role connected: nothing to grant in a single-role set-up")
