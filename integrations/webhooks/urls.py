"""POST /webhooks/stripe and POST /webhooks/gumroad (exact paths, no trailing-slash redirect)."""

from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("stripe", views.stripe_webhook, name="stripe"),
    path("gumroad", views.gumroad_webhook, name="gumroad"),
]
