"""The embedded default for `make run`: DEBUG on, SQLite and the file broker unless overridden."""

import copy
import warnings

from celery.platforms import SecurityWarning

from .base import *  # noqa: F403
from .base import LOGGING as BASE_LOGGING
from .base import env

DEBUG = True
# The demo's webhook receiver (`webhook_listen`, started by `make run`) listens on loopback;
# only the embedded default allows it. Production allows no private address unless configured.
if not env.str("WEBHOOK_ALLOWED_CIDRS", default=""):
    WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8", "::1/128"]
DEMO_WEBHOOK_PORT = env.int("DEMO_WEBHOOK_PORT", default=8099)

# The port `make run` serves on (PORT=9000 make run), so that the links in webhook payloads
# point at it. Honcho hands each Procfile process a PORT of its own (web 8000, worker 8100,
# ...), so the Makefile passes the web server's port to every process as WEB_PORT too.
WEB_PORT = env.int("WEB_PORT", default=env.int("PORT", default=8000))
if not env.str("WEBHOOK_API_BASE_URL", default=""):
    WEBHOOK_API_BASE_URL = f"http://127.0.0.1:{WEB_PORT}"

# --- A console a newcomer can read --------------------------------------------------------
# django-axes announces itself once per process; four processes said it four times.
AXES_VERBOSE = False
# `make run` in a container or sandbox runs as root. This worker accepts JSON only (Celery
# itself refuses pickle as root), and it serves the local demo: the warning stays in production.
warnings.filterwarnings(
    "ignore",
    message="You're running the worker with superuser privileges",
    category=SecurityWarning,
)
LOGGING = copy.deepcopy(BASE_LOGGING)
LOGGING["filters"] |= {
    # kombu's file transport has no host, and kombu says so on every connection.
    "no_broker_hostname": {
        "()": "core.log_filters.DropMessagesStartingWith",
        "prefixes": ["No hostname was supplied"],
    },
    # One line per static file of every admin page, and make run's readiness check.
    "routine_requests": {"()": "core.log_filters.RoutineRequests"},
    # The sweeper runs every WEBHOOK_SWEEP_INTERVAL_SECONDS (30) and nearly always finds nothing.
    "routine_tasks": {
        "()": "core.log_filters.DemoteToDebug",
        "mentions": ["sweep_webhook_deliveries", "sweep-webhook-deliveries"],
    },
}
LOGGING["formatters"]["django.server"] = {
    "()": "django.utils.log.ServerFormatter",
    "format": "[{server_time}] {message}",
    "style": "{",
}
LOGGING["handlers"]["django.server"] = {
    "class": "logging.StreamHandler",
    "formatter": "django.server",
    "filters": ["routine_requests"],
}
LOGGING["loggers"] = {
    # Django's own console handler (DEBUG only) printed each django.* line a second time.
    "django": {"handlers": [], "level": "INFO"},
    "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    "kombu.connection": {"filters": ["no_broker_hostname"]},
    # One line per delivery attempt; the receiver prints what arrived, the admin keeps the log.
    "httpx": {"level": "WARNING"},
    "celery.beat": {"filters": ["routine_tasks"]},
    "celery.worker.strategy": {"filters": ["routine_tasks"]},
    "celery.app.trace": {"filters": ["routine_tasks"]},
}
