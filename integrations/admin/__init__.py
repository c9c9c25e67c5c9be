from . import api, deliveries, webhooks  # noqa: F401
