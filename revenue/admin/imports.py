"""Background imports in the admin: the upload switch, the progress page, its JSON and Cancel.

Thin: `revenue.imports` stores, runs and cancels jobs.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from ..business_time import business_zone
from ..errors import ApplicationError
from ..imports import import_job_cancel, import_job_create, import_job_progress
from ..models import ImportJob
from .mixins import ReadOnlyAdminMixin


class BackgroundImportMixin:
    """For an ImportMixin admin: a file above IMPORT_BACKGROUND_THRESHOLD_BYTES skips the in-request
    preview and becomes an ImportJob. Small files keep import-export's preview and confirm."""

    import_job_kind = ImportJob.Kind.LEDGER

    def import_job_options(self, request: HttpRequest, form) -> dict:
        raise NotImplementedError

    def import_action(self, request, **kwargs):
        upload = request.FILES.get("import_file") if request.method == "POST" else None
        if upload is not None and upload.size > settings.IMPORT_BACKGROUND_THRESHOLD_BYTES:
            if not self.has_import_permission(request):
                raise PermissionDenied
            form = self.create_import_form(request)
            if form.is_valid():
                options = self.import_job_options(request, form)
                entity = form.cleaned_data.get("entity")
                try:
                    job = import_job_create(
                        kind=self.import_job_kind, upload=upload, options=options, entity=entity, user=request.user
                    )
                except ApplicationError as exc:
                    form.add_error("import_file", exc.message)
                else:
                    return HttpResponseRedirect(reverse("admin:revenue_importjob_change", args=[job.pk]))
            context = {
                **self.get_import_context_data(),
                **self.admin_site.each_context(request),
                "title": "Import",
                "form": form,
                "opts": self.model._meta,
                "media": self.media + form.media,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, [self.import_template_name], context)
        return super().import_action(request, **kwargs)


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only list of background imports; a job's page is its progress page."""

    list_display = ["created_at", "kind", "file_name", "status", "rows_done", "total_rows", "booked", "error_count"]
    list_filter = ["kind", "status"]
    search_fields = ["file_name", "created_by__username"]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
    exclude = ["options"]

    class Media:
        css = {"all": ["revenue/backoffice.css"]}

    def get_urls(self):
        return [
            path(
                "<int:object_id>/progress.json",
                self.admin_site.admin_view(self.progress_view),
                name="revenue_importjob_progress",
            ),
            path(
                "<int:object_id>/cancel/",
                self.admin_site.admin_view(require_POST(self.cancel_view)),
                name="revenue_importjob_cancel",
            ),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, object_id) -> ImportJob:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ImportJob.objects.select_related("created_by", "entity"), pk=object_id)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self._job(request, object_id)
        return_url = reverse(
            "admin:revenue_bankdeposit_changelist"
            if job.kind == ImportJob.Kind.BANK
            else "admin:revenue_revenueevent_changelist"
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Background import: {job.file_name}",
            "opts": self.model._meta,
            "job": job,
            "progress": import_job_progress(job),
            "return_url": return_url,
            "business_tz": business_zone(),
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/revenue/importjob/progress.html", context)

    def progress_view(self, request: HttpRequest, object_id) -> JsonResponse:
        return JsonResponse(import_job_progress(self._job(request, object_id)))

    def cancel_view(self, request: HttpRequest, object_id) -> HttpResponse:
        job = self._job(request, object_id)
        if not request.user.has_perm("revenue.add_revenueevent") and job.created_by_id != request.user.pk:
            raise PermissionDenied
        job = import_job_cancel(job=job)
        if job.status == ImportJob.Status.CANCELLED:
            messages.success(request, job.message)
        elif job.finished:
            messages.info(request, "The import had already finished; nothing to cancel.")
        else:
            messages.info(request, "Cancel requested: the import stops after the batch it is working on.")
        return HttpResponseRedirect(reverse("admin:revenue_importjob_change", args=[job.pk]))
