from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "revenue"
    verbose_name = "Revenue ledger"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connection setup for the append-only guard)
