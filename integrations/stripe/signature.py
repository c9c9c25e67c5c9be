"""Stripe-Signature verification with the stripe SDK, over every configured secret (rotation)."""

from __future__ import annotations

import time

import stripe


class SignatureRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def stripe_signature_verify(*, payload: str, header: str | None, secrets: list[str], tolerance: int) -> None:
    """Accept when any secret verifies `t=…,v1=…` over f"{t}.{payload}" within `tolerance` seconds.

    Raises SignatureRefused (missing, malformed, mismatched, stale, or from the future:
    the SDK only refuses old timestamps, and a future one would stretch the replay window).
    """
    if not header:
        raise SignatureRefused("missing_signature", "The Stripe-Signature header is missing.")
    stale = False
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance)
            _refuse_future(_timestamp(header), tolerance)
            return
        except stripe.SignatureVerificationError as exc:
            # The SDK checks the HMAC first, so "tolerance" means this secret matched but the timestamp is old.
            stale = stale or "tolerance" in str(exc)
    if stale:
        raise SignatureRefused(
            "stale_signature", f"The signature timestamp is more than {tolerance} seconds old (replay refused)."
        )
    raise SignatureRefused("invalid_signature", "The Stripe-Signature does not match any configured secret.")


def _timestamp(header: str) -> int:
    """The one `t=` of the header, ASCII digits only: the SDK's int() would also take ' 1', '+1'
    or other scripts' digits, and a timestamp our future check cannot read must not pass it."""
    values = [value for key, _, value in (item.partition("=") for item in header.split(",")) if key.strip() == "t"]
    if len(values) != 1 or not (values[0].isascii() and values[0].isdigit()) or len(values[0]) > 12:
        raise SignatureRefused(
            "malformed_signature",
            "The Stripe-Signature header needs exactly one timestamp t=<unix seconds> in ASCII digits.",
        )
    return int(values[0])


def _refuse_future(timestamp: int, tolerance: int) -> None:
    if timestamp > time.time() + tolerance:
        raise SignatureRefused(
            "future_signature", f"The signature timestamp is more than {tolerance} seconds in the future."
        )


def stripe_signature_header(*, payload: str, secret: str, timestamp: int) -> str:
    """The header Stripe sends: HMAC-SHA256 of f"{timestamp}.{payload}" (used by send_test_webhooks and tests)."""
    signature = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},v1={signature}"
