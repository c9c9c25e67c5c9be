"""Create the local admin login and print it; keep it on later runs. For the zero-setup run only."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the 'admin' superuser with a random password and print the login. An existing admin keeps "
        "its password (a reset would also count toward the login lockout); --reset-password sets and prints a new one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--reset-password", action="store_true", help="Give the admin a new password and print it.")

    def handle(self, *args, username: str, reset_password: bool, **options):
        if not settings.DEBUG:
            raise CommandError("ensure_demo_admin is for local runs (DEBUG=true); use createsuperuser in production.")
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        user.is_staff = user.is_superuser = True
        password = secrets.token_urlsafe(12) if created or reset_password else None
        if password:
            user.set_password(password)
        user.save()
        if password:
            self.stdout.write(self.style.SUCCESS(f"Admin login -> username: {username}  password: {password}"))
        else:
            self.stdout.write(
                f"Admin login -> username: {username}  (password unchanged; "
                "scripts/run.sh --reset-admin-password prints a new one)"
            )
