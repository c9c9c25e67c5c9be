from django.apps import AppConfig


class ForecastsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "forecasts"
    verbose_name = "Forecasts"
