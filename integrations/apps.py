from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        from revenue.outbox import outbox_register_dispatcher

        from . import slack  # noqa: F401  (registers channels and formatters)
        from .atlas import channel as atlas_channel  # noqa: F401
        from .slack import channel  # noqa: F401
        from .tasks import outbox_dispatch_enqueue

        outbox_register_dispatcher(outbox_dispatch_enqueue)
