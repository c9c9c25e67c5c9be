from . import deliveries  # noqa: F401
