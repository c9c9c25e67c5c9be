"""The accountant files over the Atlas API: files, 4xx JSON for bad input and refusals, OpenAPI."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounting.models import AccountMapping
from accounting.services import LEDGER_HEADER, QBO_HEADER, SUMMARY_HEADER
from integrations.services.api_keys import api_key_create

from .conftest import csv_rows, xlsx_rows

LEDGER, SUMMARY, JOURNALS = "/api/v1/accounting/ledger", "/api/v1/accounting/summary", "/api/v1/accounting/journals"


@pytest.fixture
def api(db) -> APIClient:
    _key, raw = api_key_create(name="accountant", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_ledger_csv_and_xlsx(api, june_ledger, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api.get(LEDGER, {"entity": "aplus-enterprise", "month": "2026-06"})
        body = _body(response)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Business-Time-Zone"] == "America/Chicago"
    assert 'filename="ledger_aplus-enterprise_2026-06.csv"' in response["Content-Disposition"]
    rows = csv_rows(body)
    assert list(rows[0]) == list(LEDGER_HEADER) and len(rows) == 15
    response = api.get(LEDGER, {"start": "2026-06-02", "end": "2026-06-02", "format": "xlsx"})
    sheet = xlsx_rows(response.content)
    assert sheet[0] == list(LEDGER_HEADER) and len(sheet) == 1 + 11  # both entities, June 2 only


def test_summary(api, june_ledger):
    response = api.get(SUMMARY, {"month": "2026-06"})
    rows = csv_rows(response.content)
    assert list(rows[0]) == list(SUMMARY_HEADER)
    assert {row["Entity"] for row in rows} == {"A+ Enterprise LLC", "Legacy Unchained Inc"}


def test_journals(api, june_ledger, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api.get(JOURNALS, {"entity": "aplus-enterprise", "month": "2026-06", "target": "qbo"})
    assert response.status_code == 200
    assert list(csv_rows(response.content)[0]) == list(QBO_HEADER)


def test_unmapped_accounts_are_a_400_with_the_list(api, june_ledger):
    AccountMapping.objects.filter(role="clearing_manual").delete()
    response = api.get(JOURNALS, {"entity": "aplus-enterprise", "month": "2026-06", "target": "qbo"})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "unmapped_accounts" and "No file was made" in body["message"]
    assert {(item["currency"], item["role"]) for item in body["unmapped"]} == {
        ("JPY", "clearing_manual"),
        ("KWD", "clearing_manual"),
        ("USD", "clearing_manual"),
    }


def test_xero_without_rates_is_a_400_with_the_currencies(api, june_ledger):
    response = api.get(JOURNALS, {"entity": "aplus-enterprise", "month": "2026-06", "target": "xero"})
    assert response.status_code == 400
    assert response.json()["missing_rates"] == [{"currency": "JPY", "rows": 1}, {"currency": "KWD", "rows": 1}]


@pytest.mark.parametrize(
    ("path", "params", "code", "text"),
    [
        (LEDGER, {"entity": "nobody", "month": "2026-06"}, "unknown_entity", "nobody"),
        (LEDGER, {"month": "2026-6"}, "invalid_period", "YYYY-MM"),
        (LEDGER, {"month": "0000-01"}, "invalid_period", "not a month"),
        (LEDGER, {}, "invalid_period", "Choose a month"),
        (SUMMARY, {"start": "2026-06-30", "end": "2026-06-01"}, "invalid_period", "after it ends"),
        (SUMMARY, {"month": "2026-06", "format": "pdf"}, "invalid", "The request is invalid."),
        (JOURNALS, {"month": "2026-06", "target": "qbo"}, "invalid", "The request is invalid."),
        (JOURNALS, {"entity": "aplus-enterprise", "month": "2026-06"}, "invalid", "The request is invalid."),
    ],
)
def test_bad_input_is_a_400_json(api, db, path, params, code, text):
    response = api.get(path, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code and text in body["message"]


def test_a_key_is_needed(client, db):
    assert client.get(LEDGER, {"month": "2026-06"}).status_code == 401


def test_openapi_documents_the_three_files(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in (LEDGER, SUMMARY, JOURNALS):
        operation = schema["paths"][path]["get"]
        assert "text/csv" in operation["responses"]["200"]["content"]
        assert {p["name"] for p in operation["parameters"]} >= {"entity", "month", "start", "end"}
        assert operation["security"] == [{"ApiKey": []}]
    assert (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        in (schema["paths"][LEDGER]["get"]["responses"]["200"]["content"])
    )
    journals = schema["paths"][JOURNALS]["get"]
    assert {p["name"] for p in journals["parameters"]} >= {"target"}
    refusal = journals["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"unmapped", "missing_rates", "code", "message"} <= set(
        schema["components"]["schemas"][refusal]["properties"]
    )
