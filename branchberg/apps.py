from django.apps import AppConfig


class BranchbergConfig(AppConfig):
    name = "branchberg"
