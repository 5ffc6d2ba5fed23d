"""The embedded default for `make run`: DEBUG on, SQLite and the file broker unless overridden."""

from .base import *  # noqa: F403
from .base import env

DEBUG = True
# The demo's webhook receiver (`webhook_listen`, started by `make run`) listens on loopback;
# only the embedded default allows it. Production allows no private address unless configured.
if not env.str("WEBHOOK_ALLOWED_CIDRS", default=""):
    WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8", "::1/128"]
DEMO_WEBHOOK_PORT = env.int("DEMO_WEBHOOK_PORT", default=8099)
