"""The "What each number means" page (docs/numbers.md), and the links to it (issue 16)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_the_page_defines_every_bucket_with_a_worked_example(client):
    response = client.get("/docs/numbers")
    assert response.status_code == 200
    html = response.content.decode()
    for bucket in ("Payments", "Refunds", "Disputes won back", "Fees", "Adjustments", "Net"):
        assert f"<strong>{bucket}</strong>" in html
    assert "<table>" in html and "A worked example" in html and "Gumroad fees not yet known" in html
    assert "<script" not in html  # Markdown's raw HTML is escaped


def test_every_dashboard_figure_and_the_api_docs_link_to_it(staff_client):
    page = staff_client.get(reverse("dashboard:index")).content.decode()
    assert page.count('href="/docs/numbers"') == 4  # key figures and the three money charts
    info = SchemaGenerator().get_schema(request=None, public=True)["info"]
    assert "[What each number means](/docs/numbers)" in info["description"]
    assert info["version"] == "1.1.0"
