# ruff: noqa: F811  (pytest fixtures imported from fixture modules are used as arguments)
"""Issue 15, hostile input: buyer-chosen entities, SSRF targets, Slack injection, Gumroad parsing.

Everything runs through the real parts: the Gumroad endpoint, PostgreSQL, slack_sdk
and urllib3 against pytest-httpserver. DNS answers are scripted at the OS boundary
(`socket.getaddrinfo`) and connects observed at `socket.socket.connect`.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import pytest
from django.db import transaction
from werkzeug import Response

from alerts.models import RevenueAlert
from alerts.services import alert_raise
from integrations.atlas.targets import TargetRefused, address_refusal, target_resolve, target_url_check
from integrations.facts import MappingError
from integrations.gumroad.mapping import map_ping
from integrations.models import Delivery, InboundDelivery, WebhookSubscription
from integrations.services.delivery import delivery_attempt, outbox_message_fan_out
from integrations.services.subscriptions import subscription_create
from revenue.models import Entity, OutboxMessage, RevenueEvent
from revenue.services import entity_resolve

from . import webhook_helpers as h
from .api_fixtures import subscribe_key, subscriber_api  # noqa: F401
from .summary_fixtures import DAILY_TITLE, day_of_revenue, run, slack, tick  # noqa: F401

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]

PRODUCT = "32-nPAicqbLj8B_WswVlMw=="
SALE = "gumroad:sale:FO8TXN-dvxYabdavG97Y-Q=="
RECEIVED = datetime(2026, 5, 28, 21, 0, tzinfo=UTC)


def gumroad_ok(client, ping: dict, *, as_json: bool = False):
    response = h.post_gumroad(client, ping, as_json=as_json)
    assert response.status_code == 200, response.content
    return response.json()


def entity_alerts() -> list[RevenueAlert]:
    return list(RevenueAlert.objects.filter(alert_type="entity"))


# ------------------------------------------------------------ 2. configuration beats the buyer


@pytest.fixture
def aplus_product(entities) -> Entity:
    aplus = entities["aplus-enterprise"]
    aplus.gumroad_product_ids = [PRODUCT]
    aplus.save()
    return aplus


@pytest.mark.parametrize("as_json", [False, True])
def test_buyer_url_param_does_not_move_a_mapped_product_and_raises_one_alert(client, aplus_product, as_json):
    ping = h.gumroad_ping(**{"url_params[entity]": "legacy-unchained"})
    if as_json:
        ping = {k: v for k, v in ping.items() if k != "url_params[entity]"} | {
            "url_params": {"entity": "legacy-unchained"}
        }
    gumroad_ok(client, ping, as_json=as_json)

    sale = RevenueEvent.objects.get(event_id=SALE)
    assert (sale.entity, sale.entity_source) == (aplus_product, RevenueEvent.EntitySource.PRODUCT)
    assert sale.metadata["buyer_entity_hint"] == "legacy-unchained"
    [alert] = entity_alerts()
    assert alert.entity == aplus_product
    assert "buyer-supplied entity 'legacy-unchained' names Legacy Unchained Inc" in alert.message
    assert "product mapping says A+ Enterprise LLC" in alert.message
    assert alert.metadata["buyer_entity_hint"] == "legacy-unchained"
    assert RevenueAlert.objects.count() == 1


def test_buyer_url_param_never_picks_an_entity_for_an_unmapped_product(client, entities):
    gumroad_ok(client, h.gumroad_ping(**{"url_params[entity]": "Legacy Unchained Inc"}))
    sale = RevenueEvent.objects.get(event_id=SALE)
    assert sale.entity == entities["aplus-enterprise"]  # the default, not the buyer's choice
    assert sale.entity_source == RevenueEvent.EntitySource.DEFAULT
    [alert] = entity_alerts()
    assert "buyer-supplied entity 'Legacy Unchained Inc'" in alert.message


def test_buyer_url_param_that_agrees_with_the_mapping_raises_nothing(client, aplus_product):
    gumroad_ok(client, h.gumroad_ping(**{"url_params[entity]": "aplus-enterprise"}))
    assert RevenueEvent.objects.get(event_id=SALE).entity == aplus_product
    assert entity_alerts() == []


def test_refund_of_a_conflicting_sale_follows_the_sale_without_a_second_alert(client, aplus_product):
    gumroad_ok(client, h.gumroad_ping(**{"url_params[entity]": "legacy-unchained"}))
    gumroad_ok(
        client, h.gumroad_ping(resource_name="refund", refunded="true", **{"url_params[entity]": "legacy-unchained"})
    )
    assert {e.entity for e in RevenueEvent.objects.all()} == {aplus_product}
    assert len(entity_alerts()) == 1


def test_connect_account_beats_a_metadata_hint_and_reports_the_conflict(entities):
    aplus, legacy = entities["aplus-enterprise"], entities["legacy-unchained"]
    aplus.stripe_account_ids = ["acct_aplus"]
    aplus.save()
    resolution = entity_resolve(entity_hint="legacy-unchained", stripe_account="acct_aplus")
    assert (resolution.entity, resolution.source) == (aplus, RevenueEvent.EntitySource.CONNECT_ACCOUNT)
    assert "names Legacy Unchained Inc" in resolution.conflict
    assert "Stripe Connect account mapping says A+ Enterprise LLC" in resolution.conflict
    # Without a mapping, our own hint (Stripe metadata our server set) still decides; a buyer's never does.
    assert entity_resolve(entity_hint="legacy-unchained").entity == legacy
    buyer = entity_resolve(buyer_hint="legacy-unchained")
    assert buyer.entity == aplus and buyer.conflict


# ------------------------------------------------------------ 8. Gumroad parsing


@pytest.mark.parametrize(
    "price",
    ["٣٠٠", "\uff13\uff10\uff10", "³", "३००", "-300", "+300", "3e2", "300.0", " ", "99999999999999999999999999"],
)
def test_gumroad_price_in_anything_but_ascii_digits_is_refused(client, price):
    result = gumroad_ok(client, h.gumroad_ping(price=price))
    assert result["status"] == "failed"
    delivery = InboundDelivery.objects.get()
    assert delivery.status == "failed" and "price" in delivery.error
    assert RevenueEvent.objects.count() == 0


def test_gumroad_json_price_must_be_a_sane_integer(client):
    result = gumroad_ok(client, h.gumroad_ping(price=-300), as_json=True)
    assert result["status"] == "failed" and RevenueEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("9999-12-31T23:59:59-12:00", "outside the range"),
        ("0001-01-01T00:00:00+01:00", "outside the range"),
        ("10000-01-01T00:00:00Z", "not an ISO 8601 time"),
        ("٢٠٢٦-05-28T20:26:40Z", "ASCII"),
        ("2026-05-28T20:26:40", "no time zone"),
        ("2026-05-28T20:26:40+24:00", "not an ISO 8601 time"),
        ("2026-05-28\x00T20:26:40Z", "not an ISO 8601 time"),
    ],
)
def test_gumroad_sale_timestamp_extremes_raise_only_mapping_errors(raw, reason):
    with pytest.raises(MappingError, match=reason):
        map_ping(h.gumroad_ping(sale_timestamp=raw), received_at=RECEIVED)


def test_gumroad_sale_timestamp_at_the_edges_parses_to_utc():
    early = map_ping(h.gumroad_ping(sale_timestamp="0001-01-01T00:00:00Z"), received_at=RECEIVED)
    assert early.facts[0].entry.occurred_at == datetime(1, 1, 1, tzinfo=UTC)
    late = map_ping(h.gumroad_ping(sale_timestamp="9999-12-31T23:59:59+00:00"), received_at=RECEIVED)
    assert late.facts[0].entry.occurred_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    shifted = map_ping(h.gumroad_ping(sale_timestamp="2026-05-28T15:26:40-05:00"), received_at=RECEIVED)
    assert shifted.facts[0].entry.occurred_at.utcoffset().total_seconds() == 0


def test_gumroad_ping_dated_beyond_utc_is_a_failed_delivery_not_a_5xx(client):
    result = gumroad_ok(client, h.gumroad_ping(sale_timestamp="9999-12-31T23:59:59-12:00"))
    assert result["status"] == "failed"
    assert "outside the range" in InboundDelivery.objects.get().error
    assert RevenueEvent.objects.count() == 0


# ------------------------------------------------------------ 6. Slack text injection

SLACK_PATH = "/services/T000/B000/hostile"
INJECTION = "Buyer <!channel> says <https://evil.example|click here> & <@U123>"


def test_alert_text_and_blocks_reach_slack_inert(settings, httpserver, django_capture_on_commit_callbacks, entities):
    settings.SLACK_WEBHOOK_URL = httpserver.url_for(SLACK_PATH)
    httpserver.expect_request(SLACK_PATH, method="POST").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        alert_raise(
            alert_type="entity",
            severity="warning",
            message=INJECTION,
            fingerprint="hostile:slack",
            metadata={"buyer_entity_hint": "<!here>"},
            entity=entities["aplus-enterprise"],
        )
    [(request, _)] = httpserver.log
    body = json.loads(request.get_data())
    assert body["text"].endswith(
        "Buyer &lt;!channel&gt; says &lt;https://evil.example|click here&gt; &amp; &lt;@U123&gt;"
    )
    raw = request.get_data(as_text=True)
    for live in ("<!channel>", "<!here>", "<https://evil", "<@U123>"):
        assert live not in raw, live
    assert Delivery.objects.get(channel="slack").status == "sent"


def test_summary_fallback_text_is_escaped(day_of_revenue, slack, tick):
    Entity.objects.filter(slug="legacy-unchained").update(name="Legacy <!channel> <https://evil.example|x> & Co")
    tick()
    [post] = slack.titled(DAILY_TITLE)
    assert "Legacy &lt;!channel&gt; &lt;https://evil.example|x&gt; &amp; Co" in post["text"]
    assert "<!channel>" not in json.dumps(post) and "<https://evil" not in json.dumps(post)


# ------------------------------------------------------------ 5. SSRF


@pytest.fixture
def strict_targets(settings):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = False
    settings.ATLAS_ALLOW_HTTP = False
    return settings


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://100.100.100.200/latest", "non-public"),
        ("https://100.64.0.1/hook", "non-public"),
        ("https://[2002:7f00:1::]/hook", "loopback (embedded 127.0.0.1)"),
        ("https://[2002:a00:1::]/hook", "private (embedded 10.0.0.1)"),
        ("https://[64:ff9b::7f00:1]/hook", "embedded 127.0.0.1"),
        ("https://[::ffff:100.64.0.1]/hook", "embedded 100.64.0.1"),
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "private"),
        ("https://[fec0::1]/hook", "site-local"),
        ("https://[::7f00:1]/hook", "reserved"),
        ("https://192.0.2.10/hook", "private"),
        ("https://93.184.215.14:6379/hook", "port 443"),
        ("https://93.184.215.14:22/hook", "port 443"),
        ("https://93.184.215.14:8443/hook", "port 443"),
        ("http://93.184.215.14/hook", "https"),
    ],
)
def test_non_global_addresses_and_other_ports_are_a_400_at_subscription(subscriber_api, strict_targets, url, reason):
    response = subscriber_api.post(
        "/api/v1/subscriptions", {"url": url, "event_types": ["alert.raised"]}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "target_refused" and reason in body["message"], body
    assert not WebhookSubscription.objects.exists()


def test_global_https_on_443_is_accepted(strict_targets):
    target_url_check("https://93.184.215.14:443/hook?x=1")
    target = target_resolve("https://93.184.215.14:443/hook?x=1")
    assert (target.address, target.port, target.path, target.host_header) == (
        "93.184.215.14",
        443,
        "/hook?x=1",
        "93.184.215.14:443",
    )
    assert address_refusal(__import__("ipaddress").ip_address("2606:4700:4700::1111")) is None


def test_http_needs_the_explicit_setting_and_port_80(strict_targets):
    with pytest.raises(TargetRefused, match="ATLAS_ALLOW_HTTP"):
        target_url_check("http://93.184.215.14/hook")
    strict_targets.ATLAS_ALLOW_HTTP = True
    target_url_check("http://93.184.215.14/hook")
    assert target_resolve("http://93.184.215.14/hook").port == 80
    with pytest.raises(TargetRefused, match="port 80"):
        target_url_check("http://93.184.215.14:8080/hook")


class ScriptedDNS:
    """socket.getaddrinfo that answers one name from a script (the last answer repeats); others resolve for real."""

    def __init__(self, name: str, answers: list[str]):
        self.name, self.answers, self.asked = name, list(answers), 0
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host != self.name:
            return self.real(host, port, *args, **kwargs)
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return self.real(answer, port, *args, **kwargs)


REBIND = "atlas.rebind.test"


def _subscribe_then_deliver(url: str) -> int:
    subscription_create(url=url, event_types=["alert.raised"], created_by=None)
    message = OutboxMessage.objects.create(topic="alert.raised", payload={"n": 1})
    [delivery_id] = outbox_message_fan_out(message_id=message.pk)
    return delivery_id


def test_delivery_goes_to_the_address_checked_not_a_later_dns_answer(settings, httpserver, monkeypatch):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True  # test-only: lets the loopback test server be a target
    settings.OUTBOUND_HTTP_TIMEOUT_SECONDS = 2
    httpserver.expect_request("/hooks", method="POST").respond_with_response(Response("ok", status=200))
    url = f"http://{REBIND}:{httpserver.port}/hooks"
    dns = ScriptedDNS(REBIND, ["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    delivery_id = _subscribe_then_deliver(url)

    # From now on the name answers a TEST-NET address: a second lookup at connect time would go there.
    dns.answers, dns.asked = ["127.0.0.1", "192.0.2.1"], 0
    assert delivery_attempt(delivery_id=delivery_id) is None
    assert Delivery.objects.get(pk=delivery_id).status == "sent"
    assert dns.asked == 1  # resolved once, connected to that answer
    [(request, _)] = httpserver.log
    assert request.headers["Host"] == f"{REBIND}:{httpserver.port}"


def test_rebinding_to_loopback_after_the_check_cannot_reach_loopback(strict_targets, httpserver, monkeypatch):
    strict_targets.OUTBOUND_HTTP_TIMEOUT_SECONDS = 2
    dns = ScriptedDNS(REBIND, ["93.184.215.14"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    delivery_id = _subscribe_then_deliver(f"https://{REBIND}/hooks")

    connects: list[tuple] = []
    real_connect = socket.socket.connect

    def observed_connect(sock, address):
        connects.append(address[:2])
        if address[0] in ("127.0.0.1", "::1"):
            return real_connect(sock, address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(socket.socket, "connect", observed_connect)
    dns.answers, dns.asked = ["93.184.215.14", "127.0.0.1"], 0  # the check sees public, a re-lookup would see loopback
    assert delivery_attempt(delivery_id=delivery_id) is not None  # unreachable: retried later
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "retrying" and "unreachable" in delivery.error
    assert connects == [("93.184.215.14", 443)]
    assert dns.asked == 1 and httpserver.log == []


def test_a_name_that_now_resolves_to_loopback_is_refused_at_send_time(strict_targets, httpserver, monkeypatch):
    dns = ScriptedDNS(REBIND, ["93.184.215.14"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    delivery_id = _subscribe_then_deliver(f"https://{REBIND}/hooks")
    dns.answers, dns.asked = ["127.0.0.1"], 0
    assert delivery_attempt(delivery_id=delivery_id) is None
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "failed" and "loopback" in delivery.error
    assert httpserver.log == []


@pytest.fixture
def tls_listener(tmp_path):
    """A TLS listener on loopback with a self-signed certificate for PINNED; records the SNI each client sends."""
    import ssl
    import subprocess
    import threading

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={PINNED}",
         "-addext", f"subjectAltName=DNS:{PINNED}", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.settimeout(10)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass  # the client refuses our self-signed certificate: expected

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], names
    thread.join(timeout=15)
    listener.close()


PINNED = "atlas.pinned.test"


def test_https_delivery_to_the_pinned_address_sends_the_host_name_as_sni_and_checks_the_certificate(
    settings, tls_listener, monkeypatch
):
    settings.ATLAS_ALLOW_PRIVATE_TARGETS = True  # test-only: loopback listener on a random port
    settings.OUTBOUND_HTTP_TIMEOUT_SECONDS = 5
    port, names = tls_listener
    dns = ScriptedDNS(PINNED, ["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    delivery_id = _subscribe_then_deliver(f"https://{PINNED}:{port}/hooks")
    dns.answers, dns.asked = ["127.0.0.1", "192.0.2.1"], 0
    assert delivery_attempt(delivery_id=delivery_id) is not None  # untrusted certificate: not sent, retried
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "retrying" and "SSL" in delivery.error, delivery.error
    assert names == [PINNED] and dns.asked == 1
