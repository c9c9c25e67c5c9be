"""The back office's admin site: every page shows and reads date-times in the business time zone."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils import timezone

from revenue.business_time import business_zone

# The back office's menu, in the order finance works: (key, heading, {app label: model names or None
# for every model of the app}). Models of our apps not named here join "Ledger"; every other app
# (dj-stripe's Stripe mirror, axes' login lockouts, celery beat's schedules...) is "System".
MENU: list[tuple[str, str, dict[str, list[str] | None]]] = [
    ("ledger", "Ledger", {"revenue": ["revenueevent", "importjob", "ledgerauditentry", "entity", "exchangerate"]}),
    (
        "reconciliation",
        "Reconciliation",
        {"revenue": ["bankdeposit", "expecteddeposit", "depositmatch", "reconciliationaction", "payout"]},
    ),
    ("accounting", "Accountant files", {"accounting": None}),
    ("summaries", "Summaries", {"summaries": None}),
    ("alerts", "Alerts", {"alerts": ["revenuealert", "alertrule"]}),
    ("integrations", "Integrations", {"integrations": None}),
    ("auth", "Users and groups", {"auth": None}),
]
OUR_APPS = {"revenue", "accounting", "summaries", "alerts", "integrations", "auth"}
SYSTEM = "system"
# Names that read the same as one of ours otherwise (dj-stripe's "API keys" beside Atlas API keys).
SYSTEM_MODEL_NAMES = {("djstripe", "apikey"): "Stripe API keys (dj-stripe mirror)"}
SYSTEM_APP_NAMES = {"djstripe": "Stripe mirror", "axes": "login lockouts", "django_celery_beat": "schedules"}


def _menu(apps: dict[str, dict[str, Any]], *, with_system: bool) -> list[dict[str, Any]]:
    """Django's per-app list regrouped into MENU, then one "System" group (superusers only)."""
    models = {(label, m["object_name"].lower()): (app, m) for label, app in apps.items() for m in app["models"]}
    taken: set[tuple[str, str]] = set()
    groups = []
    chosen: dict[str, list[tuple[str, str]]] = {}
    for key, _, wanted in MENU:
        chosen[key] = []
        for label, names in wanted.items():
            order = names if names is not None else sorted(n for (a, n) in models if a == label)
            chosen[key] += [(label, name) for name in order if (label, name) in models and (label, name) not in taken]
        taken.update(chosen[key])
    unnamed = sorted(k for k in models if k[0] in OUR_APPS and k not in taken)  # a model of ours MENU does not name
    chosen["ledger"] += unnamed
    taken.update(unnamed)
    for key, heading, _ in MENU:
        picked = chosen[key]
        if picked:
            groups.append(_group(key, heading, models[picked[0]][1]["admin_url"], [models[k][1] for k in picked]))
    rest = sorted((k for k in models if k not in taken and k[0] not in OUR_APPS), key=lambda k: (k[0], k[1]))
    if with_system and rest:
        system_models = []
        for k in rest:
            app, model = models[k]
            name = SYSTEM_MODEL_NAMES.get(k, f"{model['name']} ({SYSTEM_APP_NAMES.get(k[0], app['name'])})")
            system_models.append({**model, "name": name})
        groups.append(_group(SYSTEM, "System", "", system_models))
    return groups


def _group(key: str, heading: str, url: str, models: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": heading, "app_label": key, "app_url": url, "has_module_perms": True, "models": models}


class BackOfficeSite(admin.AdminSite):
    """Finance works in America/Chicago (REVENUE_TIME_ZONE): list columns, date drill-downs, detail
    pages and date-time inputs use it, not UTC. The API and exports keep their own conventions."""

    def get_app_list(self, request, app_label=None):
        """The home page and the sidebar start with the money (Ledger, Reconciliation, Summaries, Alerts,
        Integrations); third-party tables sit in one "System" group, shown to superusers only.
        An app's own index page (/admin/<app>/) keeps Django's list."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        return _menu(self._build_app_dict(request), with_system=request.user.is_superuser)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @functools.wraps(inner)
        def in_business_time(request, *args, **kwargs):
            with timezone.override(business_zone()):
                response = inner(request, *args, **kwargs)
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()  # a TemplateResponse would otherwise render after the override ends
            return response

        return in_business_time


class BackOfficeAdminConfig(AdminConfig):
    default_site = "branchberg.admin_site.BackOfficeSite"
