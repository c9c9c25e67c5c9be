from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        import integrations.notion  # Notion channel for summary.*
        import integrations.slack.summary_message
        from revenue.outbox import outbox_register_batch_dispatcher, outbox_register_dispatcher

        from . import slack  # noqa: F401  (registers channels and formatters)
        from .atlas import channel as atlas_channel  # noqa: F401
        from .slack import channel  # noqa: F401
        from .tasks import outbox_dispatch_enqueue, outbox_dispatch_enqueue_many

        outbox_register_dispatcher(outbox_dispatch_enqueue)
        outbox_register_batch_dispatcher(outbox_dispatch_enqueue_many)

        # Alerts: the alert.* Slack formatter, and the delivery-failure detector for the alert beat.
        import integrations.slack.alert_message  # noqa: F401
        from alerts.services import alert_detector_register

        from .consumers import delivery_failures_detect

        alert_detector_register(delivery_failures_detect)
