"""Where Atlas subscribers may point: public HTTPS endpoints only (no SSRF into our network).

Checked when a subscription is registered and again before every send, after
resolving the host name, so a name that later resolves to a private address is
refused too. ATLAS_ALLOW_PRIVATE_TARGETS (default: DEBUG) lifts both rules for
local testing.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from revenue.errors import ApplicationError


class TargetRefused(ApplicationError):
    code = "target_refused"
    status = 400


def _address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "reserved"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved"
    return None


def target_url_check(url: str) -> None:
    """Raise TargetRefused unless `url` is https and every address its host resolves to is public."""
    allow_private = settings.ATLAS_ALLOW_PRIVATE_TARGETS
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused(f"'{url}' is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefused("The target must be an absolute https:// URL")
    if parts.scheme != "https" and not allow_private:
        raise TargetRefused("The target must use https")
    if parts.username or parts.password:
        raise TargetRefused("The target URL must not carry credentials")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"The host '{parts.hostname}' does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        refusal = _address_refusal(address)
        if refusal:
            raise TargetRefused(f"The host '{parts.hostname}' resolves to a {refusal} address ({address})")
