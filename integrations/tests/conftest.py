"""Fixtures for inbound webhooks: configured secrets and signed deliveries (the real algorithm)."""

from __future__ import annotations

import pytest

from .webhook_helpers import GUMROAD_SECRET, GUMROAD_SELLER, STRIPE_SECRET, STRIPE_SECRET_OLD


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    settings.STRIPE_WEBHOOK_SECRETS = [STRIPE_SECRET, STRIPE_SECRET_OLD]
    settings.GUMROAD_WEBHOOK_SECRET = GUMROAD_SECRET
    settings.GUMROAD_SELLER_IDS = [GUMROAD_SELLER, "other-seller-we-own"]
    settings.WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
    return settings
