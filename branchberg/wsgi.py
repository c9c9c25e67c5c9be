import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
django_application = get_wsgi_application()

from integrations.webhooks.wsgi import WebhookFastPath  # noqa: E402  (needs the app registry)

application = WebhookFastPath(django_application)
