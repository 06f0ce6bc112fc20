"""Settings, read from the environment with django-environ.

With no variables at all the project runs on SQLite with Celery tasks executed
in-process (the embedded default). Production sets DATABASE_URL, REDIS_URL,
SECRET_KEY, ALLOWED_HOSTS and DEBUG=false; every variable is listed in the README
and in .env.example.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

# A development key is only acceptable while DEBUG is on; production must set one.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "insecure-development-key-set-SECRET_KEY-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "identity",
    "analytics",
    "accounts",
    "portal",
    "journeys",
    "demo",
]

MIDDLEWARE = [
    # First: it rewrites into the API's error shape what the others answer under /v1/.
    "ascendkit_site.middleware.ApiErrorShapeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before the rest: browsers' collect requests need none of it (see the module).
    "analytics.middleware.CollectShortcutMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy, see "Security headers" below
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ascendkit_site.urls"
WSGI_APPLICATION = "ascendkit_site.wsgi.application"

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

# --- Database -------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# SQLite ignores an index's INCLUDE columns (the covering indexes are for PostgreSQL's
# reports); the warning would print on every command of the embedded default.
SILENCED_SYSTEM_CHECKS = ["models.W040"] if DATABASES["default"]["ENGINE"].endswith("sqlite3") else []
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A health check costs every request a `SELECT 1`. Without it, a connection the
# database dropped fails one request with 503 (clients retry) and is then replaced.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Ingestion must answer 503 quickly when the database is gone, not hang for the
    # operating system's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
    # The collect path's statements (the queue INSERT, the writer's bulk statements) go
    # through plain psycopg cursors, which prepare a statement after five runs: PostgreSQL
    # then neither parses nor plans it again. Django's own cursors bind client-side and
    # never prepare. Behind PgBouncer older than 1.21 in transaction mode, set false.
    prepared = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5 if prepared else None)
else:
    # SQLite: wait for a concurrent writer instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# Explicit short timeouts: redis-py's defaults take seconds to fail when Redis is down.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)

# redis-py's own retry policy (three tries with backoff) is what makes a dead Redis
# cost seconds per call; one try with the short timeouts fails fast instead.
REDIS_CLIENT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    "retry": Retry(NoBackoff(), 0),
}

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CLIENT_OPTIONS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A Redis outage must cost a request at most a couple of seconds, never the
# library defaults (the result backend alone retries 20 times, about 19 s).
# Request code only publishes tasks; nothing reads a task's result, so results are
# not stored and publishing never touches the result backend.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# One publish attempt and one retry, 0.2 s apart; then the caller logs the failure
# and the periodic sweeps pick the work up (`ascendkit_site.queue`).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_REDIS_RETRY_ON_TIMEOUT = False
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
}
# The worker and beat, unlike request code, wait for Redis to come back rather
# than exit: they retry the connection for as long as the outage lasts.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_RESULT_EXPIRES = timedelta(hours=1)

# The one place for periodic work. Each entry expires before its next run so a
# stalled beat never piles up copies.
CELERY_BEAT_SCHEDULE = {
    "purge-anonymous-visitors": {
        "task": "analytics.tasks.purge_anonymous_visitors",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 60 * 60 * 12},
    },
    "sweep-pending-stitches": {
        "task": "analytics.tasks.stitch_pending_visitors",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 60 * 4},
    },
    "sweep-collect-queue": {
        "task": "analytics.tasks.collect_queue_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    "dispatch-event-outbox": {
        "task": "analytics.tasks.outbox_dispatch",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    # Retries due later than a countdown covers, and deliveries a broker outage lost.
    "sweep-webhook-deliveries": {
        "task": "journeys.tasks.webhook_deliveries_sweep",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    # Journey entries waiting for pre-signup pages that arrive after the signup.
    "sweep-pending-journey-entries": {
        "task": "journeys.tasks.journey_pending_entries_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    # Report rollups: the days changed since the last run, so reports lag the raw rows
    # by at most this period plus one refresh.
    "refresh-report-rollups": {
        "task": "analytics.tasks.refresh_rollups",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
}

# --- Auth -----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"

# End-user auth tokens (`POST /v1/auth/login`).
USER_TOKEN_TTL = timedelta(days=env.int("USER_TOKEN_TTL_DAYS", default=30))
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=10)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=900)

# --- Ingestion and enrichment ---------------------------------------------------------

GEOIP_DATABASE = env.str("GEOIP_DATABASE", default="")  # empty: the maxminddb-geolite2 file
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
COLLECT_MAX_BODY_BYTES = 512 * 1024
COLLECT_MAX_ITEMS = 100
COLLECT_MAX_PROPERTIES_BYTES = 32 * 1024
BROWSER_MAX_AGE = timedelta(days=7)
# Queued mode: a collect request stores its validated batch in one row and answers;
# a writer stores the batches set-based, hundreds at a time. The default on
# PostgreSQL, where it is several times faster. Off (the default on SQLite, whose
# one write lock the writer would contend for): each request writes its own batch.
COLLECT_QUEUE = env.bool("COLLECT_QUEUE", default=DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql")
# Who writes queued batches: `thread`, a thread in each web process, woken by the
# requests (nothing else to run); `external`, `manage.py collect_writer` processes.
# Called for every event the outbox hands on (SPEC 7): journeys enter, advance, deliver.
OUTBOX_CONSUMERS = ["journeys.tasks.outbox_event_consume"]
COLLECT_WRITER = env.str("COLLECT_WRITER", default="thread")
if COLLECT_WRITER not in ("thread", "external"):
    raise ImproperlyConfigured("COLLECT_WRITER must be `thread` or `external`.")
FUTURE_TOLERANCE = timedelta(minutes=1)
# Environments are looked up by key on every request; a short in-process cache
# spares that query. Key rotation and settings changes take effect within this time.
ENVIRONMENT_CACHE_SECONDS = env.int("ENVIRONMENT_CACHE_SECONDS", default=30)

DATA_UPLOAD_MAX_MEMORY_SIZE = COLLECT_MAX_BODY_BYTES + 1024

# --- Webhooks -------------------------------------------------------------------------

# Webhook targets that resolve to private, loopback, link-local or other non-public
# addresses are refused unless this is on (tests, intranets).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)

# --- REST framework and OpenAPI -------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "ascendkit_site.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AscendKit Analytics API",
    "DESCRIPTION": "Collect browser traffic and business events, authenticate end users, read profiles.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Internationalisation, static files -----------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production (`collectstatic`) serves each file twice: a hashed copy such as
# ascendkit/ascendkit.1a2b3c4d5e6f.js, cached for ten years as immutable, and the plain
# name, cached for WhiteNoise's 60 s, so the script tag's URL never changes.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# The demo site at /demo/ (the script tag at work on the demo environment); off in
# production unless asked for.
DEMO_SITE = env.bool("DEMO_SITE", default=DEBUG)

# --- Logging --------------------------------------------------------------------------

# Request logging stays off at the Django level: django.request's messages carry
# nothing of the client address, and the web server's access log is off.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Security headers -----------------------------------------------------------------
# Nothing is loaded from another host (SPEC 5, Privacy), so the policy allows only
# this origin: no inline script or style (chart data travels as json_script, bars
# are CSS classes), data: images for the icons Pico and Swagger UI embed in CSS.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
X_FRAME_OPTIONS = "DENY"
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # HSTS is sent only on HTTPS answers; a plain-HTTP request is redirected first.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
