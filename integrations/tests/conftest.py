"""Fixtures for inbound webhooks: configured secrets and signed deliveries (the real algorithm)."""

from __future__ import annotations

import importlib

import pytest

from .webhook_helpers import GUMROAD_SECRET, GUMROAD_SELLER, STRIPE_SECRET, STRIPE_SECRET_OLD


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.STRIPE_WEBHOOK_SECRETS = [STRIPE_SECRET, STRIPE_SECRET_OLD]
    settings.GUMROAD_WEBHOOK_SECRET = GUMROAD_SECRET
    settings.GUMROAD_SELLER_IDS = [GUMROAD_SELLER, "other-seller-we-own"]
    settings.WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
    return settings


def _seed_entities() -> dict:
    from revenue.models import Entity

    seed = importlib.import_module("revenue.migrations.0002_seed_entities")
    for row in seed.ENTITIES:
        Entity.objects.get_or_create(slug=row["slug"], defaults=row)
    return {entity.slug: entity for entity in Entity.objects.all()}


@pytest.fixture
def seeded_entities(django_db_blocker):
    """Transactional tests flush the tables (the seed migration's entities too): put them back."""
    with django_db_blocker.unblock():
        return _seed_entities()


@pytest.fixture
def asgi_server():
    """The web process's application (`branchberg.asgi`) under a real uvicorn server on loopback.

    Runs in a thread of the test process, so `settings` changes apply; use it from
    transaction=True tests (the server's connections are not the test's)."""
    import socket
    import threading
    import time

    import uvicorn

    from branchberg.asgi import application

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
