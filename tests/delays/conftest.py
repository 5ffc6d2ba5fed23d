"""Fixtures for the delay engine's tests: a settable clock, applications on a known calendar.

Most tests freeze `django.utils.timezone.now` (the one clock every service and the scan
read) so that dates can be counted by hand on China's calendar. The hand count used
throughout, for an application accepted on Friday 26 September 2025 (see tests/test_clock.py):
day 1 is Sunday 28 Sep (a make-up working day), 1-8 Oct are off, and

    day 27  Mon 10 Nov 2025
    day 30  Thu 13 Nov 2025    warning
    day 40  Thu 27 Nov 2025    critical
    day 45  Thu  4 Dec 2025    overdue: the statutory deadline
    day 55  Thu 18 Dec 2025    overdue, repeat 1
    day 65  Sun  4 Jan 2026    overdue, repeat 2 (a make-up working day after New Year)
"""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from licensing.models import LicenseApplication
from licensing.models.delays import ThresholdRule
from tests.factories import LicenseApplicationFactory, walk_application

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = dt.date.fromisoformat

ACCEPTED = D("2025-09-26")
WARNING_DAY = D("2025-11-13")
CRITICAL_DAY = D("2025-11-27")
DEADLINE = D("2025-12-04")
REPEAT_1_DAY = D("2025-12-18")
REPEAT_2_DAY = D("2026-01-04")


def beijing(day: dt.date | str, hour: int = 10, minute: int = 0) -> dt.datetime:
    """An instant on `day` in Beijing time."""
    if isinstance(day, str):
        day = D(day)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


class FrozenClock:
    """Stands in for django.utils.timezone.now: every service, the scan and auto_now read it."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment.astimezone(dt.UTC)

    def set(self, moment: dt.datetime) -> None:
        self.moment = moment

    def advance(self, **delta: float) -> dt.datetime:
        self.moment = self.moment + dt.timedelta(**delta)
        return self.moment


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    """The current time, frozen at Monday 10 November 2025 (day 27) 10:00 in Beijing."""
    frozen = FrozenClock(beijing("2025-11-10"))
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


def accepted_application(
    accepted_at: dt.datetime | None = None, *, review_from: dt.datetime | None = None, **kwargs
) -> LicenseApplication:
    """A CN-MOFCOM application submitted, accepted at `accepted_at` and under review, via the services."""
    accepted_at = accepted_at or beijing(ACCEPTED)
    application = LicenseApplicationFactory(**kwargs)
    walk_application(
        application,
        [
            ("submitted", accepted_at - dt.timedelta(days=6)),
            ("accepted", accepted_at),
            ("under_review", review_from or accepted_at + dt.timedelta(hours=1)),
        ],
    )
    application.refresh_from_db()
    return application


def scan(now: dt.datetime) -> str:
    """`python manage.py scan_delays --now <now>`; returns what it printed."""
    out = io.StringIO()
    call_command("scan_delays", "--now", now.isoformat(), stdout=out)
    return out.getvalue()


def raised_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("raised ")]


@pytest.fixture
def no_rules(db) -> None:
    """Remove the default rules migration 0005 installs, leaving the fallback from settings."""
    ThresholdRule.objects.all().delete()
