"""ASGI entry point for the web process (gunicorn with uvicorn workers, see gunicorn.conf.py).

Webhook deliveries are answered on the event loop (`integrations.webhooks.asgi`);
every other request goes to Django's WSGI handler on a thread pool (a2wsgi), so
the back office and the API keep ordinary synchronous Django with one thread,
and one database connection, per request in flight.
"""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
django_application = get_wsgi_application()

from integrations.webhooks.asgi import WebhookFastPath  # noqa: E402  (needs the app registry)

application = WebhookFastPath(WSGIMiddleware(django_application, workers=int(os.environ.get("WEB_THREADS", "16"))))
