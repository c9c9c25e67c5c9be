"""The back office's admin site: every page shows and reads date-times in the business time zone."""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils import timezone

from revenue.business_time import business_zone


class BackOfficeSite(admin.AdminSite):
    """Finance works in America/Chicago (REVENUE_TIME_ZONE): list columns, date drill-downs, detail
    pages and date-time inputs use it, not UTC. The API and exports keep their own conventions."""

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
