"""Issue 15, items 9-11: the lockout's client address, Content-Security-Policy, and a deploy that serves its pages."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.db import connections
from django.urls import reverse

from branchberg.client_address import ipware_settings
from integrations.tests.faults.conftest import free_port, wait_until

from . import test_dashboard_browser as dashboard_browser

pytestmark = [pytest.mark.hostile]

# The dashboard browser test's fixtures: the live server serving collectstatic output, sync ORM beside Playwright.
served_like_production = dashboard_browser.served_like_production
_orm_beside_playwright = dashboard_browser._orm_beside_playwright

PASSWORD = "correct-horse-battery-staple"
ROOT = Path(django_settings.BASE_DIR)


def _login(client, *, username: str = "staff", password: str, peer: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}, **extra)


def _lock_out(client, settings, *, peer: str, forwarded_for: list[str | None]) -> None:
    """AXES_FAILURE_LIMIT bad passwords for `staff`, one X-Forwarded-For value each: the last one locks."""
    assert len(forwarded_for) == settings.AXES_FAILURE_LIMIT
    for n, header in enumerate(forwarded_for, start=1):
        answer = _login(client, password="wrong", peer=peer, forwarded_for=header)
        expected = 429 if n == settings.AXES_FAILURE_LIMIT else 200
        assert answer.status_code == expected, f"attempt {n} from {peer} (X-Forwarded-For {header!r})"


def _logged_in(answer) -> bool:
    return answer.status_code == 302 and answer["Location"] == "/admin/"


def test_ipware_settings_follow_the_trusted_proxy_count():
    assert ipware_settings(0) == (("REMOTE_ADDR",), None)
    assert ipware_settings(1) == (("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"), 0)
    assert ipware_settings(2) == (("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"), 1)
    with pytest.raises(ValueError, match="TRUSTED_PROXY_COUNT must be 0 or more"):
        ipware_settings(-1)


@pytest.mark.django_db
def test_direct_a_spoofed_forwarded_for_neither_spreads_nor_passes_a_lockout(client, staff_user, settings):
    """No proxy (the default): X-Forwarded-For is the client's own text; the peer address is the client."""
    assert settings.TRUSTED_PROXY_COUNT == 0
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER, settings.AXES_IPWARE_PROXY_COUNT = ipware_settings(0)
    peer = "81.2.69.142"
    # Five bad passwords, each claiming to come from somewhere else: all count against the peer.
    _lock_out(client, settings, peer=peer, forwarded_for=[None, "8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9, 1.0.0.1"])
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {peer}
    # The right password with yet another spoofed address does not pass the lockout.
    for header in (None, "81.2.69.160", "81.2.69.160, 81.2.69.161"):
        assert _login(client, password=PASSWORD, peer=peer, forwarded_for=header).status_code == 429
    # The lock is on this peer + username only.
    assert _logged_in(_login(client, password=PASSWORD, peer="81.2.69.143"))
    client.logout()
    other_user = type(staff_user).objects.create_superuser("auditor", "auditor@example.com", PASSWORD)
    assert _logged_in(_login(client, username=other_user.username, password=PASSWORD, peer=peer))


@pytest.mark.django_db
def test_behind_one_proxy_the_right_most_forwarded_entry_is_the_client(client, staff_user, settings):
    """Railway: one proxy, so every request's peer is the proxy, and the proxy appends the client's address."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER, settings.AXES_IPWARE_PROXY_COUNT = ipware_settings(1)
    proxy, mallory, alice = "100.64.0.2", "81.2.69.142", "81.2.69.160"
    # Mallory writes addresses of her own on the left; the proxy appends her real one.
    _lock_out(
        client,
        settings,
        peer=proxy,
        forwarded_for=[mallory, f"8.8.8.8, {mallory}", f"{alice}, {mallory}", f"1.1.1.1, 9.9.9.9, {mallory}", mallory],
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {mallory}
    # Mallory stays locked out whatever she writes in front of her address ...
    for header in (mallory, f"{alice}, {mallory}", f"unknown, {mallory}"):
        assert _login(client, password=PASSWORD, peer=proxy, forwarded_for=header).status_code == 429
    # ... and Alice, behind the same proxy, is not locked with her.
    assert _logged_in(_login(client, password=PASSWORD, peer=proxy, forwarded_for=alice))
    client.logout()
    assert _logged_in(_login(client, password=PASSWORD, peer=proxy, forwarded_for=f"{mallory}, {alice}"))


# --- Content-Security-Policy -----------------------------------------------------------------------------

CSP_LISTENER = """() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
        `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || document.location.href}:${e.lineNumber}`));
}"""


def _watch_csp(page) -> list[str]:
    """Console errors (Chromium logs every refused resource there), page errors and failed responses."""
    problems: list[str] = []
    page.add_init_script(f"({CSP_LISTENER})()")
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: msg.type == "error"
        and not _favicon(msg.location.get("url", ""))
        and problems.append(f"console: {msg.text}"),
    )
    page.on(
        "response", lambda r: r.status >= 400 and not _favicon(r.url) and problems.append(f"HTTP {r.status} {r.url}")
    )
    return problems


def _favicon(url: str) -> bool:
    """Chromium asks every page for /favicon.ico; the admin has none, which is no CSP matter."""
    return url.endswith("/favicon.ico")


def _visit(page, problems: list[str], url: str) -> None:
    answer = page.goto(url)
    assert answer.status == 200, url
    policy = answer.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, (url, policy)
    page.wait_for_load_state("load")
    violations = page.evaluate("window.__cspViolations")
    assert violations == [] and problems == [], (url, violations, problems)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_and_dashboard_run_under_the_csp_without_a_violation(
    served_like_production, browser, artifacts_dir, client, staff_user, entities
):
    from alerts.models import RevenueAlert
    from revenue.models import RevenueEvent

    live_server = served_like_production
    dashboard_browser._seed(entities)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, reduced_motion="reduce")
    page = context.new_page()
    problems = _watch_csp(page)

    # The login page, anonymous; then the real form.
    _visit(page, problems, f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    assert page.evaluate("window.__cspViolations") == [] and problems == []
    dashboard_browser._login(context, client, staff_user, live_server)

    entry = RevenueEvent.objects.order_by("-occurred_at").first()
    alert = RevenueAlert.objects.first()
    pages = {
        "admin home": reverse("admin:index"),
        "ledger list": reverse("admin:revenue_revenueevent_changelist"),
        "ledger entry": reverse("admin:revenue_revenueevent_change", args=[entry.pk]),
        "record offline payment": reverse("admin:revenue_revenueevent_record"),
        "ledger import": reverse("admin:revenue_revenueevent_import"),
        "ledger export": reverse("admin:revenue_revenueevent_export"),
        "bank import": reverse("admin:revenue_bankdeposit_import"),
        "reconciliation": reverse("admin:revenue_bankdeposit_reconciliation"),
        "alerts": reverse("admin:alerts_revenuealert_changelist"),
        "alert": reverse("admin:alerts_revenuealert_change", args=[alert.pk]),
    }
    for name, path in pages.items():
        _visit(page, problems, f"{live_server.url}{path}")
        if name == "admin home":
            page.screenshot(path=str(artifacts_dir / "csp-admin-home.png"), full_page=True)
        if name == "ledger export":
            # The "Select all" toggle works without its inline handler.
            page.uncheck("#select-all-toggle")
            assert page.locator(".selectable-field-export-row input[type=checkbox]:checked").count() == 0
            page.check("#select-all-toggle")
            assert page.locator(".selectable-field-export-row input[type=checkbox]:not(:checked)").count() == 0
        if name == "reconciliation":
            # Its styles moved from an inline <style> block to revenue/reconciliation.css.
            assert page.locator(".recon-bar").evaluate("(e) => getComputedStyle(e).display") == "flex"
            page.screenshot(path=str(artifacts_dir / "csp-reconciliation.png"), full_page=True)
        if name == "alerts":
            badge = page.locator(".alert-severity-critical").first
            assert badge.evaluate("(e) => getComputedStyle(e).backgroundColor") == "rgb(185, 28, 28)"

    # The dashboard: charts drawn, no violation.
    _visit(page, problems, f"{live_server.url}/dashboard/")
    dashboard_browser._wait_for_charts(page, problems)
    assert page.evaluate("window.__cspViolations") == [] and problems == []
    page.screenshot(path=str(artifacts_dir / "csp-dashboard.png"), full_page=True)
    # The watch does catch a violation: an inline style attribute, as a template would write it, is refused.
    page.evaluate("""document.body.insertAdjacentHTML('beforeend', '<p style="color: red">inline</p>')""")
    page.wait_for_function("window.__cspViolations.some((v) => v.startsWith('style-src'))", timeout=5000)

    # /docs and /redoc keep their own policy (integrations.api.views) and still render.
    from integrations.api.views import DOCS_CONTENT_SECURITY_POLICY

    for path, title in (("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")):
        answer = page.goto(f"{live_server.url}{path}")
        assert answer.status == 200 and answer.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
        page.wait_for_selector(title, timeout=20000)
        assert "Branchberg revenue API" in page.locator(title).first.inner_text()
    context.close()


# --- A deploy as the platform does it ----------------------------------------------------------------------


def _procfile(root: Path) -> dict[str, str]:
    lines = (root / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.mark.slow
def test_a_fresh_checkout_built_and_started_as_the_deploy_does_serves_admin_and_docs(django_db_setup, tmp_path):
    """`git archive HEAD` (what the platform receives: committed files, no staticfiles/), the build command
    from railway.json, then the Procfile's `web` command with production settings, on loopback.

    The database is the suite's, already migrated (the `release` step's migrations are tested elsewhere).
    """
    checkout = tmp_path / "app"
    checkout.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive.stdout, check=True, timeout=60)
    assert not (checkout / "staticfiles").exists()
    (checkout / ".venv").symlink_to((ROOT / ".venv").resolve())

    db = connections["default"].settings_dict
    env = {
        "PATH": f"{checkout / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        # Production settings: DEBUG off, HTTPS redirects and secure cookies on (the defaults).
        "DEBUG": "false",
        "SECRET_KEY": "deploy-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "4",
    }
    build = json.loads((checkout / "railway.json").read_text())["build"]["buildCommand"]
    built = subprocess.run(
        shlex.split(build), cwd=checkout, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert (checkout / "staticfiles" / "staticfiles.json").exists()

    web = _procfile(checkout)["web"]
    assert "--bind 0.0.0.0:$PORT" in web
    port = free_port()
    command = shlex.split(web.replace("0.0.0.0:$PORT", f"127.0.0.1:{port}"))
    log_path = tmp_path / "web.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    # What Railway's proxy sends: HTTPS ended there, and the client's address appended.
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.77"}
    try:

        def answering() -> bool:
            try:
                return requests.get(f"{base}/health", headers=proxied, timeout=2).status_code in (200, 503)
            except requests.RequestException:
                return False

        try:
            wait_until(answering, timeout=90, what="the web command to answer")
        except AssertionError:
            raise AssertionError(log_path.read_text()) from None

        for path, marker in (("/admin/login/", "Log in"), ("/docs", "swagger-ui"), ("/redoc", "redoc")):
            answer = requests.get(f"{base}{path}", headers=proxied, timeout=10, allow_redirects=False)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:500], log_path.read_text())
            assert marker in answer.text, path
            # Every static file the page names is served (hashed names from the build's manifest).
            for static in sorted(set(re.findall(r'(?:href|src)="(/static/[^"?]+)', answer.text))):
                assert re.search(r"\.[0-9a-f]{12}\.", static), f"{path} names an unhashed {static}"
                got = requests.get(f"{base}{static}", headers=proxied, timeout=10)
                assert got.status_code == 200, (path, static, got.status_code)
        login = requests.get(f"{base}/admin/login/", headers=proxied, timeout=10)
        assert "script-src 'self'" in login.headers["Content-Security-Policy"]
        # Without the proxy's header, production redirects to HTTPS.
        plain = requests.get(f"{base}/admin/login/", timeout=10, allow_redirects=False)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    # uvicorn did not take the X-Forwarded-For text as the client (gunicorn.conf.py: forwarded_allow_ips).
    access = log_path.read_text()
    assert "127.0.0.1:" in access and "203.0.113.77" not in access, access[-2000:]
