from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import accountant_files, views

urlpatterns = [
    path("api/v1/revenue/totals", views.TotalsView.as_view(), name="api-revenue-totals"),
    path("api/v1/revenue/trends", views.TrendsView.as_view(), name="api-revenue-trends"),
    path("api/v1/revenue/forecast", views.ForecastView.as_view(), name="api-revenue-forecast"),
    path("api/v1/revenue/events", views.EventsView.as_view(), name="api-revenue-events"),
    path("api/v1/revenue/export", views.ExportView.as_view(), name="api-revenue-export"),
    path("api/v1/accounting/ledger", accountant_files.LedgerFileView.as_view(), name="api-accounting-ledger"),
    path("api/v1/accounting/summary", accountant_files.SummaryFileView.as_view(), name="api-accounting-summary"),
    path("api/v1/accounting/journals", accountant_files.JournalFileView.as_view(), name="api-accounting-journals"),
    path("api/v1/subscriptions", views.SubscriptionsView.as_view(), name="api-subscriptions"),
    path("api/v1/subscriptions/<str:subscription_id>", views.SubscriptionDetailView.as_view(), name="api-subscription"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", views.SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc", views.RedocDocsView.as_view(url_name="api-schema"), name="api-redoc"),
]
