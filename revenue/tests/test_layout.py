"""The revenue app's layout (issue 20): packages by sub-domain, one-way imports, one read-only mixin."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory

import revenue.models
from revenue.admin.mixins import ReadOnlyAdminMixin

RECONCILIATION = Path(__file__).resolve().parents[1] / "reconciliation"
# Each module may import only the modules listed after it (lower layers).
RECONCILIATION_LAYERS = ["admin", "services", "selectors", "bank_formats", "matching", "models"]


def _reconciliation_imports(module: str) -> set[str]:
    tree = ast.parse((RECONCILIATION / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):  # deferred imports inside functions count too
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found.update([node.module] if node.module else [alias.name for alias in node.names])
            elif node.module and node.module.startswith("revenue.reconciliation."):
                found.add(node.module.rsplit(".", 1)[-1])
    return found & set(RECONCILIATION_LAYERS)


@pytest.mark.parametrize("module", RECONCILIATION_LAYERS)
def test_reconciliation_imports_point_down_only(module):
    allowed = set(RECONCILIATION_LAYERS[RECONCILIATION_LAYERS.index(module) + 1 :])
    upward = _reconciliation_imports(module) - allowed
    assert not upward, f"revenue/reconciliation/{module}.py imports {sorted(upward)}, a layer above it"


def test_every_revenue_model_is_re_exported_by_revenue_models():
    for model in apps.get_app_config("revenue").get_models():
        if model.__name__.startswith("Historical"):
            continue
        assert getattr(revenue.models, model.__name__) is model


@pytest.mark.django_db
def test_the_split_needs_no_migration():
    call_command("makemigrations", "revenue", check=True, dry_run=True, verbosity=0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "label",
    [
        "revenue.RevenueEvent",
        "revenue.LedgerAuditEntry",
        "revenue.ImportJob",
        "revenue.ExpectedDeposit",
        "revenue.DepositMatch",
        "revenue.ReconciliationAction",
        "integrations.InboundDelivery",
    ],
)
def test_read_only_admins_refuse_add_change_delete_even_to_a_superuser(label, django_user_model):
    model_admin = admin.site._registry[apps.get_model(label)]
    assert isinstance(model_admin, ReadOnlyAdminMixin)
    request = RequestFactory().get("/")
    request.user = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
