"""Working-day calendars (core.calendars): China's official calendar and officers' corrections."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.calendars import WorkingCalendar, working_calendar
from core.models import CalendarException

D = dt.date.fromisoformat


# --- facts of the 2025 National Day holiday --------------------------------------------------------


def test_sunday_28_september_2025_was_a_working_day(cn_calendar):
    assert D("2025-09-28").weekday() == 6
    assert cn_calendar.is_working_day(D("2025-09-28"))
    # (27 Sep, 28 Sep]: the make-up Sunday counts, the Saturday before it did not.
    assert cn_calendar.working_days_between(D("2025-09-26"), D("2025-09-28")) == 1


def test_1_to_8_october_2025_were_days_off(cn_calendar):
    assert cn_calendar.working_days_between(D("2025-09-30"), D("2025-10-08")) == 0
    for day in range(1, 9):
        assert not cn_calendar.is_working_day(dt.date(2025, 10, day))
    assert cn_calendar.is_working_day(D("2025-10-09"))


def test_saturday_11_october_2025_was_a_working_day(cn_calendar):
    assert D("2025-10-11").weekday() == 5
    assert cn_calendar.working_days_between(D("2025-10-10"), D("2025-10-11")) == 1
    assert cn_calendar.working_days_between(D("2025-10-11"), D("2025-10-12")) == 0  # Sunday


def test_the_holiday_fortnight_counts_by_hand(cn_calendar):
    # 26 Sep (Fri) excluded; counted: 28, 29, 30 Sep, 9, 10, 11 Oct; off: 27 Sep, 1-8 Oct, 12 Oct.
    assert cn_calendar.working_days_between(D("2025-09-26"), D("2025-10-12")) == 6


def test_an_ordinary_week_has_five_working_days_and_no_day_counts_before_itself(cn_calendar):
    assert cn_calendar.working_days_between(D("2025-11-09"), D("2025-11-16")) == 5
    assert cn_calendar.working_days_between(D("2025-11-12"), D("2025-11-12")) == 0
    assert cn_calendar.working_days_between(D("2025-11-14"), D("2025-11-12")) == 0


def test_add_working_days_skips_the_holiday(cn_calendar):
    assert cn_calendar.add_working_days(D("2025-09-30"), 1) == D("2025-10-09")
    assert cn_calendar.add_working_days(D("2025-09-26"), 6) == D("2025-10-11")
    assert cn_calendar.add_working_days(D("2025-09-26"), 0) == D("2025-09-26")


# --- officers' corrections win over the holidays package -----------------------------------------


@pytest.mark.django_db
def test_a_calendar_exception_makes_a_weekday_a_day_off():
    week = (D("2025-11-09"), D("2025-11-16"))
    assert working_calendar("CN").working_days_between(*week) == 5

    CalendarException.objects.create(
        country="CN", date=D("2025-11-12"), is_working_day=False, source="Test notice"
    )

    calendar = working_calendar("CN")
    assert not calendar.is_working_day(D("2025-11-12"))
    assert calendar.working_days_between(*week) == 4
    assert calendar.add_working_days(D("2025-11-11"), 1) == D("2025-11-13")


@pytest.mark.django_db
def test_a_calendar_exception_makes_a_saturday_a_working_day():
    CalendarException.objects.create(
        country="CN", date=D("2025-11-15"), is_working_day=True, source="Test notice"
    )
    calendar = working_calendar("CN")
    assert calendar.working_days_between(D("2025-11-09"), D("2025-11-16")) == 6
    assert calendar.add_working_days(D("2025-11-14"), 1) == D("2025-11-15")


@pytest.mark.django_db
def test_an_exception_applies_only_to_its_own_country():
    CalendarException.objects.create(
        country="US", date=D("2025-11-12"), is_working_day=False, source="Test notice"
    )
    assert working_calendar("CN").is_working_day(D("2025-11-12"))
    assert not working_calendar("US").is_working_day(D("2025-11-12"))


@pytest.mark.django_db
def test_removing_an_exception_restores_the_official_calendar():
    exception = CalendarException.objects.create(
        country="CN", date=D("2025-10-08"), is_working_day=True, source="Test notice"
    )
    assert working_calendar("CN").is_working_day(D("2025-10-08"))
    exception.delete()
    assert not working_calendar("CN").is_working_day(D("2025-10-08"))


def test_exceptions_also_apply_outside_the_precomputed_years():
    calendar = WorkingCalendar(
        "CN",
        exceptions={D("2031-03-05"): False},
        first_year=2025,
        last_year=2026,
    )
    assert D("2031-03-05").weekday() == 2
    assert not calendar.is_working_day(D("2031-03-05"))
    assert calendar.working_days_between(D("2031-03-02"), D("2031-03-07")) == 4


# --- properties ---------------------------------------------------------------------------------------

# Mostly inside the precomputed span, sometimes outside it, to cover both code paths.
dates = st.dates(min_value=dt.date(2013, 6, 1), max_value=dt.date(2031, 6, 30))


@given(dates, dates, dates)
def test_working_days_between_is_additive(cn_calendar, a, b, c):
    a, b, c = sorted((a, b, c))
    assert cn_calendar.working_days_between(a, b) + cn_calendar.working_days_between(
        b, c
    ) == cn_calendar.working_days_between(a, c)


@given(dates, st.integers(min_value=1, max_value=400))
def test_add_working_days_lands_on_the_nth_working_day(cn_calendar, start, count):
    end = cn_calendar.add_working_days(start, count)
    assert cn_calendar.is_working_day(end)
    assert cn_calendar.working_days_between(start, end) == count
    # ... and on the first such day: the day before has one working day fewer.
    assert cn_calendar.working_days_between(start, end - dt.timedelta(days=1)) == count - 1


@given(dates, st.integers(min_value=-30, max_value=400))
def test_working_days_between_matches_counting_day_by_day(cn_calendar, start, span):
    end = start + dt.timedelta(days=span)
    by_hand = sum(
        cn_calendar.is_working_day(start + dt.timedelta(days=offset))
        for offset in range(1, (end - start).days + 1)
    )
    assert cn_calendar.working_days_between(start, end) == by_hand


@given(st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2029, 12, 31)))
def test_precomputed_days_agree_with_the_holidays_package(cn_calendar, day):
    import holidays

    official = holidays.country_holidays("CN", years=day.year)
    assert cn_calendar.is_working_day(day) == official.is_working_day(day)
