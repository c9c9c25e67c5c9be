"""Shared fixtures. The suite runs against the PostgreSQL and Redis that scripts/test.sh starts."""

import os
from pathlib import Path

import pytest
from django.conf import settings

SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"


def pytest_configure(config):
    if os.environ.get("DATABASE_URL", "").startswith("sqlite") or not os.environ.get("DATABASE_URL"):
        raise pytest.UsageError("The suite runs on PostgreSQL: use scripts/test.sh (it starts one on loopback).")


@pytest.fixture(autouse=True)
def _inline_celery(settings):
    """Tasks run inline unless a test starts a real worker. Celery reads Django settings lazily,
    so the `settings` fixture is the one switch (tests flip it off to use a real broker)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture(autouse=True)
def _direct_webhook_store(settings):
    """The ASGI intake's group commit writes on its own connection, outside a test's
    transaction; tests that exercise it (live servers, transaction=True) switch it back on."""
    settings.WEBHOOK_GROUP_COMMIT = False


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ARTIFACTS_DIR", settings.BASE_DIR / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shared_data() -> Path:
    return SHARED_DATA


@pytest.fixture
def entities(db):
    from revenue.models import Entity

    return {entity.slug: entity for entity in Entity.objects.all()}


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def staff_user(db, django_user_model):
    return django_user_model.objects.create_superuser("staff", "staff@example.com", "correct-horse-battery-staple")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client
