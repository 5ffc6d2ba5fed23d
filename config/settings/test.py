"""Settings for the test suite.

DATABASE_URL and REDIS_URL select PostgreSQL and Redis (CI always sets both); without
them the suite runs on SQLite and skips the Redis tests with a reason.
"""

import os

from tests.pinned_clock import pin_from_environment

from .base import *  # noqa: F403

# TEST_TODAY=2026-02-18 runs this process (and every process a test starts with these
# settings) as if it were that day; see tests/pinned_clock.py.
pin_from_environment()

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # One file per test process, so that two runs on one machine never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# Tasks enqueued by tests go nowhere unless a test starts a real worker on a real broker
# (it sets CELERY_BROKER_URL); never into the on-disk queue of a local `make run`.
if not env.str("CELERY_BROKER_URL", default=""):  # noqa: F405
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
