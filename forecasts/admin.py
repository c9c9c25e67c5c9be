from django.contrib import admin

from .models import RevenueForecast


@admin.register(RevenueForecast)
class RevenueForecastAdmin(admin.ModelAdmin):
    """Read-only: forecasts are written by the nightly fit (forecasts.tick), never by hand."""

    list_display = ("entity", "currency", "last_actual_day", "status", "model_name", "history_days", "generated_at")
    list_filter = ("status", "currency", "entity")
    search_fields = ("entity__name", "entity__slug", "currency")
    list_select_related = ("entity",)
    date_hierarchy = "last_actual_day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
