from . import deliveries, webhooks  # noqa: F401
