"""Branchberg settings: one module, every value read from the environment once.

An integration switches on when its key is present. Production secrets have no
defaults: with DEBUG off, SECRET_KEY must be set.
"""

from datetime import date
from pathlib import Path

import environ

from branchberg.client_address import ipware_settings

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY") if not DEBUG else env.str("SECRET_KEY", default="dev-insecure-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env.int("PORT", default=8000)

# SAFE_MODE (default on): no financial data goes to an AI provider, and the
# database refuses UPDATE/DELETE on ledger rows. Off, only a connection as the table
# owner may edit them in place; the app role never can (revenue/db_roles.py).
SAFE_MODE = env.bool("SAFE_MODE", default=True)

INSTALLED_APPS = [
    "branchberg.admin_site.BackOfficeAdminConfig",  # django.contrib.admin, in business time
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc served from our static files, not a CDN
    "django_celery_beat",
    "import_export",
    "simple_history",
    "axes",
    "csp",
    "djstripe",
    "chartjs",
    "revenue",
    "accounting",
    "summaries",
    "alerts",
    "forecasts",
    "integrations",
    "branchberg",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "revenue.middleware.UploadLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "branchberg.urls"
WSGI_APPLICATION = "branchberg.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The zero-setup run uses SQLite; production and the test suite use PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The zero-setup run writes from two processes (web, and beat + worker): WAL lets readers read while
    # one writes, IMMEDIATE takes the write lock at BEGIN, and a writer waits up to 20 s for the other.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
# Two PostgreSQL roles (README "Database roles"). DATABASE_URL is this process's connection:
# the app role for web, worker and beat, which may only SELECT and INSERT the ledger and its
# audit trails. `release` migrates as the owner of the tables: the Procfile puts
# DATABASE_OWNER_URL in DATABASE_URL's place and hands the app URL on as DATABASE_APP_URL.
# DATABASE_APP_ROLE (default: DATABASE_APP_URL's user) is the role the migrations grant to;
# empty or the migrating role itself (SQLite, single-role set-ups): no grants, triggers only.
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="") or (
    environ.Env.db_url_config(env.str("DATABASE_APP_URL"))["USER"] if env.str("DATABASE_APP_URL", default="") else ""
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin lockout: per username + IP, expiring after an hour.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The lockout keys on the client address: TRUSTED_PROXY_COUNT proxies stand in front of the app
# (0: clients connect directly; Railway: 1), see branchberg/client_address.py. Not strict: entries a
# client wrote on the left of X-Forwarded-For are allowed and ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_META_PRECEDENCE_ORDER, AXES_IPWARE_PROXY_COUNT = ipware_settings(TRUSTED_PROXY_COUNT)
AXES_IPWARE_PROXY_ORDER = "left-most"
IPWARE_STRICT = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Business days run midnight to midnight here; every report is in this zone.
REVENUE_TIME_ZONE = env.str("REVENUE_TIME_ZONE", default="America/Chicago")
REPORTING_CURRENCY = "USD"
# The plausible window for when money moved (webhooks, manual entry, CSV): earlier or later is refused.
LEDGER_EARLIEST_DATE = date.fromisoformat(env.str("LEDGER_EARLIEST_DATE", default="2000-01-01"))
LEDGER_FUTURE_LEEWAY_HOURS = env.int("LEDGER_FUTURE_LEEWAY_HOURS", default=24)
# Reconciliation: a bank deposit matches an expected one within this many business days (Mon-Fri).
RECONCILIATION_WINDOW_BUSINESS_DAYS = env.int("RECONCILIATION_WINDOW_BUSINESS_DAYS", default=5)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# TLS ends at Railway's proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp) on every page that does not set its own (/docs and /redoc do,
# integrations.api.views): scripts and styles only from our static files, no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Webhook bodies above this are refused with 413 before anything is parsed.
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
# Every JSON body from outside (webhooks, the API): nesting limit (deeper is a 400) and
# the API's size limit (larger is a 413). See integrations/json_limits.py.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=64)
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
# Inbound webhooks are stored first, then booked: "celery" hands booking to a worker
# (inline anyway when no broker is configured); "inline" books within the request.
WEBHOOK_PROCESSING = env.str("WEBHOOK_PROCESSING", default="celery")
# ASGI intake: deliveries in flight in one process share one INSERT and one commit (PostgreSQL only).
WEBHOOK_GROUP_COMMIT = env.bool("WEBHOOK_GROUP_COMMIT", default=True)
WEBHOOK_STORE_TIMEOUT_SECONDS = 10
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
# Admin uploads (ledger CSV, bank statements): a body above IMPORT_MAX_UPLOAD_BYTES is refused from its
# Content-Length before it is read; a file above IMPORT_BACKGROUND_THRESHOLD_BYTES skips the in-request
# preview (a full rolled-back run, row by row) and is imported by a worker in IMPORT_JOB_BATCH_ROWS batches.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
IMPORT_BACKGROUND_THRESHOLD_BYTES = env.int("IMPORT_BACKGROUND_THRESHOLD_BYTES", default=256 * 1024)
IMPORT_JOB_BATCH_ROWS = env.int("IMPORT_JOB_BATCH_ROWS", default=5000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # larger uploads are spooled to a temporary file, not memory

# Celery. Without a broker, tasks run inline (the zero-setup run).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default="")) or None
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# One visibility timeout for broker and result transport, longer than any task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# The zero-setup run's periodic work (scripts/run.sh): beat and a worker in one process, passing messages
# through kombu's filesystem transport (a folder, no Redis). It has no broadcast, so no remote control.
if (CELERY_BROKER_URL or "").startswith("filesystem://"):
    _broker_folder = env.str("CELERY_BROKER_FOLDER", default=str(BASE_DIR / ".tmp" / "broker"))
    CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": _broker_folder, "data_folder_out": _broker_folder}
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# Providers and outbound channels: each switches on when its key is present.
STRIPE_WEBHOOK_SECRETS = env.list("STRIPE_WEBHOOK_SECRET", default=[])
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
GUMROAD_WEBHOOK_SECRET = env.str("GUMROAD_WEBHOOK_SECRET", default="")
GUMROAD_SELLER_IDS = env.list("GUMROAD_SELLER_ID", default=[])
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
# Or the Web API (a bot token with chat:write, and a channel id): replies can then thread.
SLACK_BOT_TOKEN = env.str("SLACK_BOT_TOKEN", default="")
SLACK_CHANNEL = env.str("SLACK_CHANNEL", default="")
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")
NOTION_API_KEY = env.str("NOTION_API_KEY", default="")
NOTION_DATABASE_ID = env.str("NOTION_DATABASE_ID", default="")
NOTION_BASE_URL = env.str("NOTION_BASE_URL", default="https://api.notion.com")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="") or None
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4o-mini")
OUTBOUND_HTTP_TIMEOUT_SECONDS = env.float("OUTBOUND_HTTP_TIMEOUT_SECONDS", default=5.0)
# Euro foreign exchange reference rates (the last 90 days; a missed day is filled on the next fetch).
ECB_RATES_URL = env.str("ECB_RATES_URL", default="https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml")
# Outbound deliveries: attempts before giving up (also bounds a poison message that kills
# its worker), and the in-flight lease (0: twice the HTTP timeout plus 30 s).
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=8)
DELIVERY_LEASE_SECONDS = env.float("DELIVERY_LEASE_SECONDS", default=0)

# Alerts: payments of the same customer and amount this close together look like duplicates;
# a daily-net anomaly must also be at least this many major units of its currency.
ALERTS_DUPLICATE_WINDOW_MINUTES = env.int("ALERTS_DUPLICATE_WINDOW_MINUTES", default=10)
ALERTS_ANOMALY_MIN_DEVIATION = env.int("ALERTS_ANOMALY_MIN_DEVIATION", default=250)
# A day outside this interval of its forecast is an anomaly (percent; docs/forecasts.md#anomalies:
# 95 alerts on about 1.5 ordinary days a month of a noisy series, 99 on under one).
ALERTS_ANOMALY_INTERVAL = env.float("ALERTS_ANOMALY_INTERVAL", default=99.0)
# Whose public and unofficial holidays the forecasts learn (the `holidays` library's country code; empty: none).
FORECAST_HOLIDAY_COUNTRY = env.str("FORECAST_HOLIDAY_COUNTRY", default="US")
# Public base URL (e.g. https://branchberg.up.railway.app): links in Slack messages. Blank: paths only.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")

# dj-stripe: used only for API backfill (`manage.py sync_stripe`); intake never calls Stripe.
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=STRIPE_SECRET_KEY.startswith("sk_live"))
STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY if not STRIPE_LIVE_MODE else ""
STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY if STRIPE_LIVE_MODE else ""
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
DJSTRIPE_USE_NATIVE_JSONFIELD = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["integrations.api.parsers.LimitedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "EXCEPTION_HANDLER": "branchberg.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Branchberg revenue API",
    "DESCRIPTION": (
        "The revenue ledger for Atlas: totals, trends, events, export and signed subscriptions. "
        "[What each number means](/docs/numbers): the money buckets every figure uses."
    ),
    "VERSION": "1.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /docs and /redoc load their JavaScript from drf-spectacular-sidecar through whitenoise:
    # no third-party CDN on the page where people paste an API key (templates/drf_spectacular/
    # drops ReDoc's Google Fonts too).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},  # no badge from validator.swagger.io
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# Atlas API (integrations.api): per-key request rate, throttle counters shared through
# Redis when it is configured, and subscriber targets limited to public https unless
# ATLAS_ALLOW_PRIVATE_TARGETS is on for local testing.
ATLAS_API_THROTTLE_RATE = env.str("ATLAS_API_THROTTLE_RATE", default="600/min")
# Redis for the counters: REDIS_URL, else the Celery broker when that is Redis; none: process memory.
_THROTTLE_REDIS_URL = env.str("REDIS_URL", default="") or (
    CELERY_BROKER_URL if (CELERY_BROKER_URL or "").startswith(("redis://", "rediss://")) else ""
)
if _THROTTLE_REDIS_URL:
    CACHES["api_throttle"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _THROTTLE_REDIS_URL,
        "KEY_PREFIX": "throttle",
        # A slow or absent Redis must not hold an API request for long (the throttle then lets it through).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
ATLAS_API_THROTTLE_CACHE = "api_throttle" if "api_throttle" in CACHES else "default"
# Off unless set (local tests only): lifts the address/port/scheme rules, never the pinned connection.
ATLAS_ALLOW_PRIVATE_TARGETS = env.bool("ATLAS_ALLOW_PRIVATE_TARGETS", default=False)
# Plain http subscribers, on port 80 only (docs/api.md "SSRF rules").
ATLAS_ALLOW_HTTP = env.bool("ATLAS_ALLOW_HTTP", default=False)
