"""Where the client address comes from, given how many proxies stand in front of the app.

Each proxy appends the address it received the request from to X-Forwarded-For, so behind
N trusted proxies the client is the N-th entry from the right; anything left of it is text
the client chose. With no proxy, X-Forwarded-For is the client's own text and is ignored.
django-axes reads the client address through django-ipware with these settings; uvicorn
never rewrites the peer address (gunicorn.conf.py), so this is the one place it is decided.
"""

from __future__ import annotations


def ipware_settings(trusted_proxy_count: int) -> tuple[tuple[str, ...], int | None]:
    """`(AXES_IPWARE_META_PRECEDENCE_ORDER, AXES_IPWARE_PROXY_COUNT)` for this many trusted proxies.

    django-ipware counts the proxies listed in the header; the last proxy is not listed (it is
    the peer, REMOTE_ADDR), hence the - 1.
    """
    if trusted_proxy_count < 0:
        raise ValueError(f"TRUSTED_PROXY_COUNT must be 0 or more, not {trusted_proxy_count}.")
    if trusted_proxy_count == 0:
        return ("REMOTE_ADDR",), None
    return ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"), trusted_proxy_count - 1
