from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        import integrations.notion  # Notion channel for summary.*
        import integrations.slack.summary_message  # noqa: F401  (summary.* Slack formatter)
        from revenue.outbox import outbox_register_dispatcher

        from . import slack  # noqa: F401  (registers channels and formatters)
        from .slack import channel  # noqa: F401
        from .tasks import outbox_dispatch_enqueue

        outbox_register_dispatcher(outbox_dispatch_enqueue)
