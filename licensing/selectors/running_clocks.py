"""The authority clocks of many running applications at once, in a constant number of queries.

The dashboard's ageing and the lead-time statistics' oldest open application both need the
wait of applications whose clock runs, without a query per application: one read of the
applications, one of their authorities, one of the status histories that can pause a clock
(only an information request pauses through the workflow, so only the histories of
applications that ever had one are read), one of the clock stops, and one per calendar.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from core.calendars import working_calendar
from licensing.clock import StatusEvent, StopPeriod, compute_clock
from licensing.models import (
    ApplicationStatus,
    ClockStop,
    LicenseApplication,
    LicensingAuthority,
    StatusChange,
)


@dataclass(frozen=True)
class RunningClock:
    """How long one application has waited on its authority's clock, pauses excluded."""

    clock_started_at: dt.datetime
    zone: ZoneInfo
    elapsed: int

    def age_calendar_days(self, now: dt.datetime) -> int:
        """Calendar days since the clock-start date, in the authority's time zone."""
        start_day = self.clock_started_at.astimezone(self.zone).date()
        return max((now.astimezone(self.zone).date() - start_day).days, 0)


def running_clocks(
    applications: QuerySet[LicenseApplication], *, now: dt.datetime, unit: str | None = None
) -> dict[Any, RunningClock]:
    """{application id: its running clock} for the `applications` whose clock has started.

    `unit` counts in that unit (e.g. working days for every authority); by default each
    authority's own (`review_period_unit`), the unit of `decision_working_days`.
    """
    started = applications.filter(clock_started_at__isnull=False)
    rows = list(started.values_list("id", "authority_id", "clock_started_at"))
    if not rows:
        return {}
    authorities = {
        authority.pk: authority
        for authority in LicensingAuthority.objects.filter(
            pk__in={authority_id for _, authority_id, _ in rows}
        ).only("id", "review_period", "review_period_unit", "time_zone", "calendar_country")
    }
    events = defaultdict(list)
    paused_by_request = StatusChange.objects.filter(
        to_status=ApplicationStatus.INFO_REQUESTED, application__in=started
    ).values("application_id")
    for application_id, to_status, occurred_at in StatusChange.objects.filter(
        application_id__in=paused_by_request
    ).values_list("application_id", "to_status", "occurred_at"):
        events[application_id].append(StatusEvent(to_status, occurred_at))
    stops = defaultdict(list)
    for application_id, started_on, ended_on in ClockStop.objects.filter(
        application__in=started
    ).values_list("application_id", "started_on", "ended_on"):
        stops[application_id].append(StopPeriod(started_on, ended_on))
    calendars = {
        country: working_calendar(country)
        for country in {authority.calendar_country for authority in authorities.values()}
    }

    clocks = {}
    for application_id, authority_id, clock_started_at in rows:
        authority = authorities[authority_id]
        zone = ZoneInfo(authority.time_zone)
        clock = compute_clock(
            clock_started_at=clock_started_at,
            decided_at=None,
            period=authority.review_period,
            unit=unit or authority.review_period_unit,
            zone=zone,
            calendar=calendars[authority.calendar_country],
            events=events.get(application_id, ()),
            stops=stops.get(application_id, ()),
            has_deadline=False,
            now=now,
        )
        clocks[application_id] = RunningClock(clock_started_at, zone, clock.elapsed)
    return clocks
