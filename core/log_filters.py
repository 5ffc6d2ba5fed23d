"""Logging filters that keep the console of a local run (`make run`) readable.

They are wired in config/settings/local.py only: production logs stay complete.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence


class DropMessagesStartingWith(logging.Filter):
    """Drop records whose message starts with one of `prefixes`: a known, harmless warning."""

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


class RoutineRequests(logging.Filter):
    """Drop the development server's line for each static file or health check it answered."""

    ROUTINE = ('"GET /static/', '"GET /healthz ')

    def filter(self, record: logging.LogRecord) -> bool:
        answered = getattr(record, "status_code", 500) < 400
        return not (answered and record.getMessage().startswith(self.ROUTINE))


class DemoteToDebug(logging.Filter):
    """Log records that mention one of `mentions` at DEBUG: they show only with LOG_LEVEL=DEBUG.

    For routine lines that other code logs at INFO, e.g. Celery's "received" and "succeeded"
    lines for a periodic task that runs every few seconds and usually finds nothing to do.
    """

    def __init__(self, mentions: Sequence[str]) -> None:
        super().__init__()
        self.mentions = tuple(mentions)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        if not any(mention in message for mention in self.mentions):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
