from django.apps import AppConfig


class BranchbergConfig(AppConfig):
    name = "branchberg"

    def ready(self) -> None:
        from .wiring import wire

        wire()
