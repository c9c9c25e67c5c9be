from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("health", views.health, name="health"),
    path("docs/numbers", views.numbers, name="numbers"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("integrations.webhooks.urls")),
    path("", include("integrations.api.urls")),
    path("dashboard/", include("branchberg.dashboard.urls")),
]
