"""The work queues of the admin: what is most urgent, and each row's wait, at page cost.

Urgency reads stored columns only (the delay engine keeps `delay_level` and
`statutory_deadline` current), so ordering a queue costs nothing per row. The wait on
the authority's clock is computed in Python from prefetched status changes and clock
stops, with each working calendar read once per page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from core.calendars import WorkingCalendar, working_calendar
from licensing.clock import ApplicationClock, application_clock
from licensing.models import DELAY_LEVEL_RANK, DelayLevel, LicenseApplication
from licensing.models.applications import PENDING_STATUSES

# Prefetch these before `clocks_by_application`: the clock reads them through the managers.
CLOCK_PREFETCH = ("status_changes", "clock_stops")


def application_urgency() -> Case:
    """An integer to sort applications by, most urgent highest.

    Open applications rank by delay level (overdue, critical, warning, none) above every
    decided one; within a level, sort by the statutory deadline.
    """
    return Case(
        *(
            When(
                Q(status__in=PENDING_STATUSES) & Q(delay_level=level),
                then=Value(rank + 1),
            )
            for level, rank in DELAY_LEVEL_RANK.items()
        ),
        default=Value(0),
        output_field=IntegerField(),
    )


def shipment_urgency() -> Case:
    """At-risk shipments first, then by how soon the license runs out, then the rest."""
    return Case(
        When(at_risk=True, then=Value(10)),
        When(license_expiring=DelayLevel.CRITICAL, then=Value(9)),
        When(license_expiring=DelayLevel.WARNING, then=Value(8)),
        default=Value(0),
        output_field=IntegerField(),
    )


def alert_urgency() -> Case:
    """Open alerts first (by level), then acknowledged ones (by level), then resolved ones."""
    whens = []
    for level, rank in DELAY_LEVEL_RANK.items():
        whens.append(
            When(
                resolved_at__isnull=True,
                acknowledged_at__isnull=True,
                level=level,
                then=Value(20 + rank),
            )
        )
        whens.append(When(resolved_at__isnull=True, level=level, then=Value(10 + rank)))
    return Case(*whens, default=Value(0), output_field=IntegerField())


def clocks_by_application(
    applications: Iterable[LicenseApplication], *, now: dt.datetime | None = None
) -> dict:
    """Each application's clock at one instant, keyed by pk: one calendar query per country.

    Prefetch CLOCK_PREFETCH and select `authority` first, or this costs queries per row.
    """
    now = now or timezone.now()
    calendars: dict[str, WorkingCalendar] = {}
    clocks: dict = {}
    for application in applications:
        country = application.authority.calendar_country
        if country not in calendars:
            calendars[country] = working_calendar(country)
        clocks[application.pk] = application_clock(
            application, now=now, calendar=calendars[country]
        )
    return clocks


def wait_text(clock: ApplicationClock | None) -> str:
    """'12 working days', '3 calendar days (2 paused)'; '' before the clock starts."""
    if clock is None or clock.clock_started_at is None:
        return ""
    unit = clock.unit.replace("_", " ")
    if clock.elapsed == 1:
        unit = unit.removesuffix("s")
    return f"{clock.elapsed} {unit}"
