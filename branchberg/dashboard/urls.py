from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="index"),
    path("summary.json", views.SummaryView.as_view(), name="summary"),
    path("charts/daily-net.json", views.DailyNetChartView.as_view(), name="chart-daily-net"),
    path("charts/providers.json", views.ProviderChartView.as_view(), name="chart-providers"),
    path("charts/monthly.json", views.MonthlyChartView.as_view(), name="chart-monthly"),
    path("charts/payouts.json", views.PayoutChartView.as_view(), name="chart-payouts"),
]
