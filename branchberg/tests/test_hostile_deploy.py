"""Issue 15, items 9-11: the lockout's client address, Content-Security-Policy, and a deploy that serves its pages."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from branchberg.client_address import ipware_settings

pytestmark = [pytest.mark.hostile]

PASSWORD = "correct-horse-battery-staple"


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
