"""/docs (Swagger UI) and /redoc load only our own static files (drf-spectacular-sidecar), no CDN."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

PAGES = ["/docs", "/redoc"]
ASSETS = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_reference_only_local_static_files(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assets = ASSETS.findall(html)
    ours = ("/static/drf_spectacular_sidecar/", f"{path}?script")  # Swagger UI's settings script is ours too
    assert assets and all(asset.startswith(ours) and "//" not in asset for asset in assets), assets
    assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html and "<script>" not in html
    for asset in assets:  # served by whitenoise from the collected static files
        assert client.get(asset).status_code == 200, asset
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_swagger_settings_come_as_a_script_from_the_same_url(client):
    response = client.get("/docs?script")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in response.content.decode() and "validatorUrl" in response.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_docs_render_in_a_browser_without_leaving_the_site(request, settings, live_server, artifacts_dir):
    # live_server serves static files through the finders: un-hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    browser = request.getfixturevalue("browser")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    ours = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []

    def only_ours(route):
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    page = context.new_page()

    assert page.goto(f"{live_server.url}/docs").status == 200
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Branchberg revenue API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 7  # the revenue and subscription operations
    page.screenshot(path=str(artifacts_dir / "api_docs_swagger.png"))

    assert page.goto(f"{live_server.url}/redoc").status == 200
    page.wait_for_selector("h1")
    assert "Branchberg revenue API" in page.locator("h1").first.inner_text()
    page.screenshot(path=str(artifacts_dir / "api_docs_redoc.png"))
    context.close()
    assert elsewhere == []
