"""Settings shared by every environment.

Every environment variable the service reads is read here, through django-environ, so
this file is the one list of what can be configured (the README documents each one).
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# Runtime state of the embedded default (SQLite database, Celery's file broker) lives here.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# A development key: production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="insecure-development-key-never-use-in-production-0123456789abcdef",
)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "django_countries",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_api_key",
    "import_export",
    "axes",
    "core",
    "licensing",
]

MIDDLEWARE = [
    "core.request_id.RequestIdMiddleware",
    "core.api.guards.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Keep last: turns a login refused by the lockout into the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE takes the write
    # lock at BEGIN, so two writers queue on busy_timeout instead of failing mid-way
    # with "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (and, later, throttling state) ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -------------------------------------------------------------------------------
# Staff log in with Django's own authentication; django-axes refuses logins for a username
# from an address after LOGIN_FAILURE_LIMIT failures, for LOGIN_COOLOFF_MINUTES. The API
# authenticates with API keys and never reaches these backends.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
# Username and address together: one attacker cannot lock every account out from one
# address, nor lock one account out for everyone. Behind a proxy REMOTE_ADDR is the proxy's.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))

# --- Celery -------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport: no broker process is needed.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Tasks take ids, re-read state and are safe to run twice, so a task is acknowledged only
# after it ran, and redelivered when the worker dies mid-way.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
# Longer than any countdown or ETA we schedule, so Redis never redelivers a waiting task early.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60 * 12)
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
    # How often a worker hands back the unacknowledged messages of dead workers once their
    # visibility timeout passed: every interval x throttle seconds (kombu's default: 100 s).
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_interval"] = env.int(
        "CELERY_UNACKED_RESTORE_INTERVAL", default=10
    )
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_throttle"] = env.int(
        "CELERY_UNACKED_RESTORE_THROTTLE", default=10
    )
# Scans and webhook deliveries have their own queues: a delivery backlog never delays a scan.
# Declaring all three makes a worker started without -Q consume every one of them (Celery's
# default would be `default` alone: no scan, no delivery); `-Q scans` or `-Q webhooks,default`
# still splits them across machines.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_QUEUE_NAMES = ("default", "scans", "webhooks")
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name) for name in CELERY_QUEUE_NAMES
)
CELERY_TASK_ROUTES = {
    "licensing.tasks.scan_delays": {"queue": "scans"},
    "licensing.tasks.recompute_delays": {"queue": "scans"},
    "licensing.tasks.refresh_forecasts": {"queue": "scans"},
    "core.tasks.*": {"queue": "default"},
    "licensing.tasks.deliver_webhook": {"queue": "webhooks"},
    "licensing.tasks.sweep_webhook_deliveries": {"queue": "webhooks"},
}
DELAY_SCAN_INTERVAL_SECONDS = env.int("DELAY_SCAN_INTERVAL_SECONDS", default=300)
CELERY_BEAT_SCHEDULE = {
    "scan-delays": {
        "task": "licensing.tasks.scan_delays",
        "schedule": DELAY_SCAN_INTERVAL_SECONDS,
        # A scan that could not start within an interval is superseded by the next one.
        "options": {"expires": DELAY_SCAN_INTERVAL_SECONDS},
    },
    "purge-idempotency-keys": {"task": "core.tasks.purge_idempotency_keys", "schedule": 60 * 60},
}
# --- Expected decision forecast (licensing.forecast, licensing.services.forecasts) ----------
# A fallback level (authority+item+destination, authority+item, authority+material family,
# authority) is used when at least this many decisions in it came at or after the
# application's current age; below that at every level, the window is the statutory deadline.
FORECAST_MIN_SAMPLE = env.int("FORECAST_MIN_SAMPLE", default=20)
# Per-level overrides, e.g. {"authority": 50}; levels not named use FORECAST_MIN_SAMPLE.
FORECAST_MIN_SAMPLE_BY_LEVEL: dict[str, int] = {}
# The nightly refit runs at this UTC hour, minute 30 (16:30 UTC is 00:30 in Beijing: the
# authority's day has just turned, so every age has grown by its day).
FORECAST_REFRESH_HOUR_UTC = env.int("FORECAST_REFRESH_HOUR_UTC", default=16)
CELERY_BEAT_SCHEDULE["refresh-forecasts"] = {
    "task": "licensing.tasks.refresh_forecasts",
    "schedule": crontab(minute=30, hour=FORECAST_REFRESH_HOUR_UTC),
    "options": {"expires": 60 * 60},
}

# --- Webhooks (licensing.services.webhooks, core.webhooks) --------------------------------
# Networks exempt from the SSRF checks, e.g. "127.0.0.0/8" for a local receiver; empty in
# production. http is accepted only for loopback targets allowed here.
WEBHOOK_ALLOWED_CIDRS = env.list("WEBHOOK_ALLOWED_CIDRS", default=[])
# Per attempt; core.webhooks.http caps both at 15 s.
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", default=10.0)
# Seconds before each attempt: the first is immediate, then 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 10 h. After the last one fails the delivery is dead and the endpoint disabled.
WEBHOOK_RETRY_SCHEDULE = [
    int(seconds)
    for seconds in env.list(
        "WEBHOOK_RETRY_SCHEDULE",
        default=["0", "5", "300", "1800", "7200", "18000", "36000", "36000"],
    )
]
# Each retry delay is drawn within +/- this fraction of the schedule's (0 disables jitter).
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.1)
# A Retry-After longer than this is cut to it.
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env.int("WEBHOOK_RETRY_AFTER_MAX_SECONDS", default=24 * 60 * 60)
# An endpoint failing every delivery for this many days is disabled.
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
# After a rotation the previous secret keeps signing (a second signature) this long.
WEBHOOK_SECRET_GRACE_SECONDS = env.int("WEBHOOK_SECRET_GRACE_SECONDS", default=24 * 60 * 60)
# Retries due within this many seconds are queued with a countdown; later ones are left to
# the sweeper, so that no worker holds hours-long ETA tasks.
WEBHOOK_MAX_COUNTDOWN_SECONDS = env.int("WEBHOOK_MAX_COUNTDOWN_SECONDS", default=300)
# The sweeper runs this often and queues deliveries overdue by more than the grace.
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.int("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=30)
WEBHOOK_SWEEP_GRACE_SECONDS = env.int("WEBHOOK_SWEEP_GRACE_SECONDS", default=15)
# The origin of the API links in payloads (no trailing slash).
WEBHOOK_API_BASE_URL = env.str("WEBHOOK_API_BASE_URL", default="http://127.0.0.1:8000")
CELERY_BEAT_SCHEDULE["sweep-webhook-deliveries"] = {
    "task": "licensing.tasks.sweep_webhook_deliveries",
    "schedule": WEBHOOK_SWEEP_INTERVAL_SECONDS,
    "options": {"expires": WEBHOOK_SWEEP_INTERVAL_SECONDS},
}

# --- Audit trail (core.audit) ----------------------------------------------------------------
# Days an audit row is kept before the daily purge deletes it; at least 5 years (1827 days).
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=2557)
if AUDIT_RETENTION_DAYS < 1827:
    raise ImproperlyConfigured(
        f"AUDIT_RETENTION_DAYS is {AUDIT_RETENTION_DAYS}; audit rows are kept at least "
        "1827 days (5 years)."
    )
CELERY_BEAT_SCHEDULE["purge-audit-trail"] = {
    "task": "core.tasks.purge_audit_trail",
    "schedule": 24 * 60 * 60,
}

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- API ----------------------------------------------------------------------------------
# Request bodies over this many bytes get 413 (documented in the OpenAPI description).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
IDEMPOTENCY_KEY_TTL_SECONDS = env.int("IDEMPOTENCY_KEY_TTL_SECONDS", default=24 * 60 * 60)
# How long a first request holds its Idempotency-Key before a retry may take it over.
IDEMPOTENCY_LEASE_SECONDS = 300

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "licensing.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["licensing.api.tenancy.ActsForOrganization"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.KeysetCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_THROTTLE_RATE", default="1200/min")},
    "DEFAULT_SCHEMA_CLASS": "licensing.api.v1.schema.ProblemAwareAutoSchema",
    "EXCEPTION_HANDLER": "core.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Export license tracker API",
    # A plain semantic version: generated clients take it as their package version. The
    # API's own version (the `v1` of the URLs) is `info.x-api-version`.
    "VERSION": "1.0.0",
    "EXTENSIONS_INFO": {"x-api-version": "v1"},
    "OAS_VERSION": "3.1.0",
    "DESCRIPTION": (
        "Track export-license applications and the shipments that wait for them, on the "
        "licensing authority's statutory clock. Authenticate with `Authorization: Api-Key <key>`. "
        "Errors are RFC 9457 `application/problem+json`. POST accepts `Idempotency-Key`; "
        "PATCH, PUT and DELETE require `If-Match` with the ETag of your last GET. Request bodies "
        f"over {API_MAX_BODY_BYTES} bytes get 413."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SCHEMA_PATH_PREFIX_TRIM": False,
    # One name per choice set that several fields share (spectacular would hash-suffix them).
    "ENUM_NAME_OVERRIDES": {
        "ApplicationStatusEnum": "licensing.models.ApplicationStatus",
        "ShipmentStatusEnum": "licensing.models.ShipmentStatus",
        "PeriodUnitEnum": "licensing.models.PeriodUnit",
        "QuantityUnitEnum": "licensing.models.QuantityUnit",
        "CountryEnum": "django_countries.countries",
        "DelayLevelEnum": "licensing.models.DelayLevel",
        "WindowByEnum": "licensing.selectors.lead_times.WindowBy",
        # A threshold's level: DelayLevel without "none".
        "ThresholdLevelEnum": [
            ("warning", "warning"),
            ("critical", "critical"),
            ("overdue", "overdue"),
        ],
    },
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # The events sent to webhook endpoints (OpenAPI 3.1 `webhooks`).
    "WEBHOOKS": [
        f"licensing.api.v1.webhooks.{name}_WEBHOOK"
        for name in (
            "ALERT_RAISED",
            "ALERT_ESCALATED",
            "ALERT_RESOLVED",
            "APPLICATION_STATUS_CHANGED",
            "SHIPMENT_AT_RISK",
            "LICENSE_EXPIRING",
            "WEBHOOK_TEST",
        )
    ],
    # Examples for every body and path parameter, and OpenAPI 3.1 null types.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "licensing.api.v1.schema.postprocess_v1",
    ],
}

# --- Domain -------------------------------------------------------------------------------
# The delay rule used when no ThresholdRule matches (migration 0003 installs the same as data).
DELAY_DEFAULT_RULE = {
    "levels": [
        {"level": "warning", "after": 30, "unit": "working_days", "at_statutory_deadline": False},
        {"level": "critical", "after": 40, "unit": "working_days", "at_statutory_deadline": False},
        {"level": "overdue", "after": None, "unit": "working_days", "at_statutory_deadline": True},
    ],
    "repeat_every": 10,
    "repeat_unit": "working_days",
    "lead_buffer_days": 5,
    "expiry_warning_days": 30,
}
DELAY_SCAN_BATCH_SIZE = env.int("DELAY_SCAN_BATCH_SIZE", default=500)
# Calendar years precomputed for working-day arithmetic; far enough for any open case.
WORKING_CALENDAR_FIRST_YEAR = 2015
WORKING_CALENDAR_YEARS_AHEAD = 3
# Lead-time statistics (GET /api/v1/stats/lead-times/) add every organization's decision
# times, anonymised and only in large enough groups, when on (licensing.selectors.lead_times).
SHARE_ANONYMOUS_STATS = env.bool("SHARE_ANONYMOUS_STATS", default=False)
# The demo admin that `make run` creates (local settings only).
DEMO_ADMIN_USERNAME = env.str("DEMO_ADMIN_USERNAME", default="admin")
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="admin-demo-password")
