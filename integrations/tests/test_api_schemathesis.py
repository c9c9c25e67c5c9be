# ruff: noqa: F811  (pytest fixtures imported from api_fixtures are used as arguments)
"""Schemathesis against the live OpenAPI schema, through the real WSGI application.

Every operation, positive and negative examples, with a valid key holding both
scopes: no 5xx, and status codes / content types / headers / bodies as the schema
says. Bounded with a small max_examples.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from branchberg.wsgi import application
from integrations.services.api_keys import api_key_create

from .api_fixtures import ledger  # noqa: F401

# negative_data_rejection is left out on purpose: the API ignores unknown query parameters
# (forward compatibility for Atlas); negative examples are still sent and must never 5xx.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Like Django's test client: a request must not close the connection holding the test transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def live_schema(wsgi_keeps_the_test_connection):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


schema = schemathesis.pytest.from_fixture("live_schema")


@pytest.fixture
def full_key(db, settings):
    # Registration would resolve random generated host names: keep the suite off the network.
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True
    settings.ATLAS_API_THROTTLE_RATE = "100000/min"
    _key, raw = api_key_create(name="schemathesis", scopes=["read", "subscribe"])
    return raw


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, full_key, ledger):
    case.call_and_validate(headers={"Authorization": f"Bearer {full_key}"}, checks=CHECKS)


def test_schema_serves_every_operation_and_docs(client):
    body = client.get("/api/schema/?format=json").json()
    operations = {(path, method) for path, item in body["paths"].items() for method in item}
    assert operations == {
        ("/api/v1/revenue/totals", "get"),
        ("/api/v1/revenue/trends", "get"),
        ("/api/v1/revenue/forecast", "get"),
        ("/api/v1/revenue/events", "get"),
        ("/api/v1/revenue/export", "get"),
        ("/api/v1/accounting/ledger", "get"),
        ("/api/v1/accounting/summary", "get"),
        ("/api/v1/accounting/journals", "get"),
        ("/api/v1/subscriptions", "get"),
        ("/api/v1/subscriptions", "post"),
        ("/api/v1/subscriptions/{subscription_id}", "get"),
        ("/api/v1/subscriptions/{subscription_id}", "delete"),
    }
    assert set(body["components"]["securitySchemes"]) == {"ApiKey"}
    assert client.get("/docs").status_code == 200
    assert client.get("/redoc").status_code == 200
