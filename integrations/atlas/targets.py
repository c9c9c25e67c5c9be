"""Where Atlas subscribers may point, and how we reach them without SSRF into our network.

Rules (docs/api.md "SSRF rules"): `https` on port 443 (`http` on port 80 only with
ATLAS_ALLOW_HTTP); no credentials in the URL; the host must resolve only to globally
routable addresses (`ipaddress.is_global`, and an IPv4 address embedded in IPv6 —
mapped, 6to4, Teredo, NAT64 — must be global too). Checked when a subscription is
registered and again before every send.

At send time the host is resolved ONCE, every answer is checked, and the connection
goes to the checked address (`pinned_post`: TLS SNI, certificate name and Host header
carry the host name), so a DNS answer that changes between the check and the connect
(rebinding) cannot move the request. ATLAS_ALLOW_PRIVATE_TARGETS (off unless set; for
local tests) lifts the address, scheme and port rules, never the pinning.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

from revenue.errors import ApplicationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_RESPONSE_BYTES = 8192


class TargetRefused(ApplicationError):
    code = "target_refused"
    status = 400


@dataclass(frozen=True)
class Target:
    """A checked subscriber URL with the one address the request may go to."""

    scheme: str
    hostname: str
    port: int
    address: str
    path: str
    host_header: str


@dataclass(frozen=True)
class TargetResponse:
    status: int
    text: str
    headers: dict[str, str]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (a relay or gateway would reach them)."""
    embedded = []
    if address.ipv4_mapped is not None:
        embedded.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    if address in NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def address_refusal(address: IPAddress) -> str | None:
    """Why `address` is not a public destination, or None when it is globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "link-local"
        for inner in _embedded_ipv4(address):
            refusal = address_refusal(inner)
            if refusal:
                return f"{refusal} (embedded {inner})"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "reserved"
    if address.is_link_local:
        return "link-local"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_reserved:
        return "reserved"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        return "non-public (not globally routable, e.g. shared 100.64.0.0/10)"
    return None


def _url_rules(url: str) -> tuple[str, str, int, str, str]:
    """Scheme, credentials and port rules: (scheme, hostname, port, netloc, path) or TargetRefused."""
    allow_private = settings.ATLAS_ALLOW_PRIVATE_TARGETS
    allow_http = allow_private or settings.ATLAS_ALLOW_HTTP
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise TargetRefused(f"'{url[:200]}' is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise TargetRefused("The target must be an absolute https:// URL")
    if parts.scheme != "https" and not allow_http:
        raise TargetRefused("The target must use https (http only when ATLAS_ALLOW_HTTP is on)")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The target URL must not carry credentials")
    default_port = 443 if parts.scheme == "https" else 80
    if port is None:
        port = default_port
    if port != default_port and not allow_private:
        raise TargetRefused(f"The target must use port {default_port} for {parts.scheme}, not {port}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, hostname, port, parts.netloc, path


def _checked_addresses(hostname: str, port: int) -> list[IPAddress]:
    """Resolve once; every answer must be globally routable (unless ATLAS_ALLOW_PRIVATE_TARGETS)."""
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        raise TargetRefused(f"The host '{hostname[:200]}' does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"The host '{hostname[:200]}' does not resolve")
    if not settings.ATLAS_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            refusal = address_refusal(address)
            if refusal:
                raise TargetRefused(
                    f"The host '{hostname}' resolves to a {refusal} address ({address}): "
                    "only globally routable addresses are allowed"
                )
    return addresses


def target_url_check(url: str) -> None:
    """Registration check: TargetRefused (a 400 with the reason) unless `url` follows the SSRF rules.

    With ATLAS_ALLOW_PRIVATE_TARGETS the host is not resolved here (tests stay off the network).
    """
    _scheme, hostname, port, _netloc, _path = _url_rules(url)
    if not settings.ATLAS_ALLOW_PRIVATE_TARGETS:
        _checked_addresses(hostname, port)


def target_resolve(url: str) -> Target:
    """Send-time check: the rules, one resolution, and the checked address the POST must go to."""
    scheme, hostname, port, netloc, path = _url_rules(url)
    address = _checked_addresses(hostname, port)[0]
    return Target(scheme=scheme, hostname=hostname, port=port, address=str(address), path=path, host_header=netloc)


def pinned_post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> TargetResponse:
    """POST to the checked address only: no second DNS lookup, no redirects, no retries here.

    For https the certificate must be valid for the host name, which also goes in SNI.
    Raises urllib3.exceptions.HTTPError or OSError when the receiver cannot be reached.
    """
    pool_timeout = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=pool_timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=pool_timeout, retries=False, maxsize=1)
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            data = response.read(MAX_RESPONSE_BYTES)
        finally:
            response.release_conn()
    return TargetResponse(
        status=response.status,
        text=data.decode("utf-8", "replace")[:2000],
        headers={key.lower(): value for key, value in response.headers.items()},
    )
