"""Working-day calendars: a country's official calendar, with officers' corrections.

Built on the `holidays` package, whose Chinese calendar knows the weekend days made
working days around public holidays (调休). Rows in `CalendarException` win over it.

Periods follow China's Civil Code (art. 201): the day an event happens does not count,
so `working_days_between(start, end)` counts the days in (start, end] and
`add_working_days(start, n)` is the n-th working day after `start`.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping
from functools import lru_cache

import holidays
from django.conf import settings

ONE_DAY = dt.timedelta(days=1)


class WorkingCalendar:
    """The working days of one country over a span of years, with O(log n) arithmetic.

    Keeps a cumulative count of working days per date, so counting the days between two
    dates is two look-ups and finding the n-th working day is a bisection.
    """

    def __init__(
        self,
        country: str,
        *,
        exceptions: Mapping[dt.date, bool] | None = None,
        first_year: int | None = None,
        last_year: int | None = None,
    ) -> None:
        self.country = country
        self.exceptions = dict(exceptions or {})
        this_year = dt.date.today().year
        self.first_year = first_year or settings.WORKING_CALENDAR_FIRST_YEAR
        self.last_year = last_year or this_year + settings.WORKING_CALENDAR_YEARS_AHEAD
        self._official = holidays.country_holidays(
            country, years=range(self.first_year, self.last_year + 1)
        )
        self._origin = dt.date(self.first_year, 1, 1)
        self._end = dt.date(self.last_year, 12, 31)
        # _cumulative[i]: working days in [origin, origin + i]
        self._cumulative: list[int] = []
        running = 0
        day = self._origin
        while day <= self._end:
            running += self._is_working_day_uncached(day)
            self._cumulative.append(running)
            day += ONE_DAY

    def _is_working_day_uncached(self, day: dt.date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return bool(self._official.is_working_day(day))

    def _index(self, day: dt.date) -> int:
        return (day - self._origin).days

    def _covers(self, day: dt.date) -> bool:
        return self._origin <= day <= self._end

    def is_working_day(self, day: dt.date) -> bool:
        if not self._covers(day):
            return self._is_working_day_uncached(day)
        index = self._index(day)
        previous = self._cumulative[index - 1] if index else 0
        return self._cumulative[index] > previous

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; 0 when end <= start."""
        if end <= start:
            return 0
        if self._covers(start) and self._covers(end):
            return self._cumulative[self._index(end)] - self._cumulative[self._index(start)]
        return sum(
            self._is_working_day_uncached(start + dt.timedelta(days=offset))
            for offset in range(1, (end - start).days + 1)
        )

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The `count`-th working day after `start` (`start` itself when count is 0)."""
        if count <= 0:
            return start
        if self._covers(start):
            target = self._cumulative[self._index(start)] + count
            index = bisect.bisect_left(self._cumulative, target)
            if index < len(self._cumulative):
                return self._origin + dt.timedelta(days=index)
        day, remaining = start, count
        while remaining:
            day += ONE_DAY
            remaining -= self._is_working_day_uncached(day)
        return day


@lru_cache(maxsize=32)
def _cached_calendar(country: str, exceptions: frozenset[tuple[dt.date, bool]]) -> WorkingCalendar:
    return WorkingCalendar(country, exceptions=dict(exceptions))


def working_calendar(country: str) -> WorkingCalendar:
    """The calendar of `country` with the current exceptions from the database.

    One small query per call; the calendar itself is rebuilt only when the exceptions change.
    """
    from core.models import CalendarException

    exceptions = frozenset(
        CalendarException.objects.filter(country=country).values_list("date", "is_working_day")
    )
    return _cached_calendar(country, exceptions)
