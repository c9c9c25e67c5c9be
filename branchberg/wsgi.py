"""WSGI entry point (runserver, and any WSGI server); the web process serves `branchberg.asgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchberg.settings")
application = get_wsgi_application()
