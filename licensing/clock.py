"""The statutory clock of a license application, on the authority's own calendar.

Counting follows China's Civil Code (art. 201): the day the clock starts does not count;
day 1 is the next working day, and the deadline is the N-th counting day after the start.
Dates are read in the authority's time zone.

Days that do not count ("paused"):
- while the application is `info_requested`: the days after the request up to and
  including the day review resumed, i.e. (requested, resumed]; a request answered the
  same day pauses nothing;
- recorded clock stops: both dates inclusive; an open stop runs through today.
An ongoing pause is assumed to end today when projecting the deadline.

The clock stops at the decision (or withdrawal). Escalated cases and watch-listed parties
have no statutory deadline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone

from core.calendars import WorkingCalendar, working_calendar
from licensing.models import ApplicationStatus, LicenseApplication, PeriodUnit

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ApplicationClock:
    """Where an application stands on the authority's clock at one instant."""

    clock_started_at: dt.datetime | None
    unit: str
    elapsed: int
    paused_days: int
    statutory_deadline: dt.date | None
    is_running: bool


@dataclass(frozen=True)
class StatusEvent:
    to_status: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class StopPeriod:
    started_on: dt.date
    ended_on: dt.date | None


def _local_date(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def _paused_dates(
    events: Iterable[StatusEvent],
    stops: Iterable[StopPeriod],
    *,
    start: dt.date,
    end: dt.date,
    zone: ZoneInfo,
) -> set[dt.date]:
    """Every date in (start, end] on which the clock did not run."""
    paused: set[dt.date] = set()

    def add_range(first: dt.date, last: dt.date) -> None:
        day = max(first, start + ONE_DAY)
        while day <= min(last, end):
            paused.add(day)
            day += ONE_DAY

    requested_on: dt.date | None = None
    for event in sorted(events, key=lambda e: e.occurred_at):
        day = _local_date(event.occurred_at, zone)
        if event.to_status == ApplicationStatus.INFO_REQUESTED:
            requested_on = day
        elif requested_on is not None:
            add_range(requested_on + ONE_DAY, day)
            requested_on = None
    if requested_on is not None:
        add_range(requested_on + ONE_DAY, end)
    for stop in stops:
        add_range(stop.started_on, stop.ended_on or end)
    return paused


@dataclass(frozen=True)
class ClockDays:
    """The counting days of one application's clock, for both units.

    `paused` holds the dates on which the clock did not run (see `_paused_dates`).
    """

    start: dt.date
    today: dt.date
    calendar: WorkingCalendar
    paused: frozenset[dt.date] = field(default_factory=frozenset)

    def _counts(self, day: dt.date, unit: str) -> bool:
        if day in self.paused:
            return False
        return unit != PeriodUnit.WORKING_DAYS or self.calendar.is_working_day(day)

    def day_reaching(self, count: int, unit: str, *, start: dt.date | None = None) -> dt.date:
        """The day on which `count` counting days after `start` (default: the clock start) are reached."""
        day = start or self.start
        if count <= 0:
            return day
        paused = sorted(p for p in self.paused if p > day)
        if unit == PeriodUnit.WORKING_DAYS:
            paused = [p for p in paused if self.calendar.is_working_day(p)]
        skipped = 0
        while True:
            if unit == PeriodUnit.WORKING_DAYS:
                candidate = self.calendar.add_working_days(day, count + skipped)
            else:
                candidate = day + dt.timedelta(days=count + skipped)
            inside = sum(1 for p in paused if p <= candidate)
            if inside == skipped:
                return candidate
            skipped = inside


def compute_clock(
    *,
    clock_started_at: dt.datetime | None,
    decided_at: dt.datetime | None,
    period: int,
    unit: str,
    zone: ZoneInfo,
    calendar: WorkingCalendar,
    events: Iterable[StatusEvent],
    stops: Iterable[StopPeriod],
    has_deadline: bool,
    now: dt.datetime,
) -> ApplicationClock:
    """The clock from plain inputs; `application_clock` gathers them from the database."""
    if clock_started_at is None:
        return ApplicationClock(None, unit, 0, 0, None, False)
    start = _local_date(clock_started_at, zone)
    is_running = decided_at is None
    end = _local_date(decided_at if decided_at else now, zone)
    paused = _paused_dates(events, stops, start=start, end=end, zone=zone)
    working = unit == PeriodUnit.WORKING_DAYS
    paused_counting = [day for day in paused if not working or calendar.is_working_day(day)]
    if working:
        elapsed_gross = calendar.working_days_between(start, end)
    else:
        elapsed_gross = max((end - start).days, 0)
    elapsed = elapsed_gross - len(paused_counting)

    deadline = None
    if has_deadline:
        days = ClockDays(start=start, today=end, calendar=calendar, paused=frozenset(paused))
        deadline = days.day_reaching(period, unit)
    return ApplicationClock(
        clock_started_at=clock_started_at,
        unit=unit,
        elapsed=elapsed,
        paused_days=len(paused_counting),
        statutory_deadline=deadline,
        is_running=is_running,
    )


def application_clock(
    application: LicenseApplication,
    *,
    now: dt.datetime | None = None,
    calendar: WorkingCalendar | None = None,
) -> ApplicationClock:
    """The application's clock at `now` (default: the current time).

    Reads status changes and clock stops through the related managers, so prefetch
    `status_changes` and `clock_stops` when computing many. `calendar` defaults to the
    authority's working calendar, read with one query: pass it when computing many.
    """
    authority = application.authority
    return compute_clock(
        clock_started_at=application.clock_started_at,
        decided_at=application.decided_at,
        period=authority.review_period,
        unit=authority.review_period_unit,
        zone=ZoneInfo(authority.time_zone),
        calendar=calendar if calendar is not None else working_calendar(authority.calendar_country),
        events=[
            StatusEvent(change.to_status, change.occurred_at)
            for change in application.status_changes.all()
        ],
        stops=[
            StopPeriod(stop.started_on, stop.ended_on) for stop in application.clock_stops.all()
        ],
        has_deadline=application.has_statutory_deadline,
        now=now or timezone.now(),
    )


def clock_window(
    application: LicenseApplication, *, now: dt.datetime | None = None
) -> tuple[dt.date, dt.date] | None:
    """The authority-local days the clock covers: its start to the decision, or to today.

    A clock stop must lie inside it: a stop outside pauses nothing the clock counts, and a
    date far away (0001-01-01, 9999-12-31) only costs every later reading. None before the
    clock starts.
    """
    if application.clock_started_at is None:
        return None
    zone = ZoneInfo(application.authority.time_zone)
    end = application.decided_at or now or timezone.now()
    return _local_date(application.clock_started_at, zone), _local_date(end, zone)
