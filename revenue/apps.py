from django.apps import AppConfig


class RevenueConfig(AppConfig):
    name = "revenue"
    verbose_name = "Revenue ledger"

    def ready(self) -> None:
        from . import db_types, signals  # noqa: F401  (connection setup: the append-only guard, safe date loaders)
