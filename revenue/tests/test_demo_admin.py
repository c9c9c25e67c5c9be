"""The zero-setup run's admin login: printed when created, kept on later runs, reset on request."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("ensure_demo_admin", *args, stdout=out)
    return out.getvalue()


def test_created_once_then_kept_then_reset_on_request(settings):
    settings.DEBUG = True
    first = _run()
    password = first.split("password: ")[1].strip()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)

    again = _run()
    assert "password unchanged" in again and "password: " not in again
    admin.refresh_from_db()
    assert admin.check_password(password)

    reset = _run("--reset-password")
    new_password = reset.split("password: ")[1].strip()
    admin.refresh_from_db()
    assert new_password != password and admin.check_password(new_password)


def test_refused_outside_local_runs(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="local runs"):
        _run()
