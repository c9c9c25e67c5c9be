"""gunicorn settings for the `web` process (Procfile) and bench/bench_webhooks.py; flags override them.

uvicorn workers serve `branchberg.asgi`: webhook deliveries on the event loop
(C HTTP parser, no thread per delivery), the rest of Django on a pool of
WEB_THREADS threads per process. Several deliveries in flight per process is what
lets the intake's group commit (integrations/webhooks/group_commit.py) share one
commit between them.
"""

import os

wsgi_app = "branchberg.asgi:application"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 30
keepalive = 30
# The peer address reaches Django as it is (REMOTE_ADDR); Django alone reads X-Forwarded-For, with
# TRUSTED_PROXY_COUNT (branchberg/client_address.py). uvicorn's own rewrite would disagree: by default
# it trusts 127.0.0.1 (a local client's spoofed header becomes its address) and with "*" it takes the
# left-most entry, which the client writes. HTTPS is read from X-Forwarded-Proto by Django
# (SECURE_PROXY_SSL_HEADER), so nothing is lost.
forwarded_allow_ips = ""


def post_worker_init(worker):
    """The access log, redacted and off the request path.

    Gumroad's ping URL carries the webhook token in its query string: a filter on the logger
    redacts it before the record goes anywhere. The write itself (a pipe to the platform's log
    collector, which can block) happens on a writer thread every 50 ms: the request only queues the record
    (branchberg.log_filters.access_log_off_the_hot_path).
    """
    import logging

    from branchberg.log_filters import QuerySecretsRedacted, access_log_off_the_hot_path

    access = logging.getLogger("uvicorn.access")
    access.addFilter(QuerySecretsRedacted())
    access_log_off_the_hot_path(access)
