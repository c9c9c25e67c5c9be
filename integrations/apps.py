from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        from revenue.outbox import outbox_register_dispatcher

        from .tasks import outbox_dispatch_enqueue

        outbox_register_dispatcher(outbox_dispatch_enqueue)
