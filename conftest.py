"""Shared fixtures. The suite runs against the PostgreSQL and Redis that scripts/test.sh starts."""

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

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
def live_admin_session(live_server, django_user_model, settings):
    """A logged-in superuser's session cookie value for Chromium on the live server, made before the
    browser starts (its event loop forbids the ORM in the test). Call it with a username."""
    from django.test import Client

    # The live server serves /static/ from the finders (plain names), not the manifest's hashed ones.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    def login(username: str) -> str:
        user = django_user_model.objects.create_superuser(username, f"{username}@example.com", f"{username}-pw-12345")
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    return login


@pytest.fixture
def staff_user(db, django_user_model):
    return django_user_model.objects.create_superuser("staff", "staff@example.com", "correct-horse-battery-staple")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


class RealWorker:
    """A Celery worker process (solo pool) started by `real_celery_worker`: its process and log."""

    def __init__(self, process, log: Path):
        self.process = process
        self.log = log

    def wait_for(self, condition, what: str, timeout: float = 180):
        """Poll `condition` until it returns something truthy (returned); fail with the worker's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; worker log:\n{self.log.read_text()[-3000:]}")


def _test_database_url() -> str:
    """The test database, as the app role when scripts/services.sh created one (as workers run in production)."""
    from django.db import connection

    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    if os.environ.get("TEST_APP_DATABASE_URL"):
        app = urlsplit(os.environ["TEST_APP_DATABASE_URL"])
        auth = f"{app.username}:{app.password}" if app.password else str(app.username)
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _drop_cached_producers(app) -> None:
    """The app caches its producer pool with the broker URL of its first use; forget it (kombu's own
    pools are shared by URL and stay open for the next test)."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def real_celery_worker(settings, tmp_path):
    """Start a real Celery worker process against the test Redis: `real_celery_worker(*extra_args, **extra_env)`.

    The web side (this test) sends to the same Redis; Redis is flushed before and after.
    """
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.fail("TEST_REDIS_URL is not set: run the suite with scripts/test.sh")
    flush = ["redis-cli", "-p", os.environ["TEST_REDIS_PORT"], "FLUSHALL"]
    from branchberg.celery import app

    started: list[RealWorker] = []

    def start(*extra_args: str, **extra_env: str) -> RealWorker:
        subprocess.run(flush, capture_output=True, timeout=10, check=False)
        settings.CELERY_TASK_ALWAYS_EAGER = False  # Celery reads Django settings lazily
        settings.CELERY_BROKER_URL = redis_url
        _drop_cached_producers(app)
        env = {**os.environ, "CELERY_BROKER_URL": redis_url, "DATABASE_URL": _test_database_url(), **extra_env}
        log = tmp_path / "worker.log"
        command = [str(Path(sys.executable).parent / "celery"), "-A", "branchberg", "worker", "--pool=solo"]
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel=INFO"]
        command += [f"--hostname=test-{os.getpid()}-{len(started)}@%h", *extra_args]
        with log.open("w") as output:
            process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
        worker = RealWorker(process, log)
        started.append(worker)
        worker.wait_for(lambda: " ready." in log.read_text(), "the worker to start")
        return worker

    try:
        yield start
    finally:
        _drop_cached_producers(app)
        for worker in started:
            worker.process.terminate()
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait(timeout=10)
        subprocess.run(flush, capture_output=True, timeout=10, check=False)
