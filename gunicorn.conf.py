"""gunicorn settings for the `web` process (Procfile) and bench/bench_webhooks.py; flags override them.

Threads, not only processes: the webhook intake's group commit (integrations/webhooks/
group_commit.py) batches the deliveries that arrive together in one process, so a
process needs several requests in flight to share a commit.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
timeout = 30
keepalive = 30
