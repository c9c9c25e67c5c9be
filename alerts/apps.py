from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from . import reconciliation  # noqa: F401  (registers the alerts.reconciliation_check task)
