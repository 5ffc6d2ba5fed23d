"""Clock arithmetic of the delay engine: ClockDays, assess_levels and their agreement with the clock.

Pure tests on China's official calendar (holidays and make-up working days), with
information requests and clock stops. The hand-counted cases come first, then properties.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.clock import StatusEvent, StopPeriod, _paused_dates, compute_clock
from licensing.models.levels import DELAY_LEVEL_RANK
from licensing.thresholds import ClockDays, LevelSpec, RuleSpec, assess_levels
from tests.delays.conftest import (
    ACCEPTED,
    CRITICAL_DAY,
    DEADLINE,
    REPEAT_1_DAY,
    REPEAT_2_DAY,
    SHANGHAI,
    WARNING_DAY,
    beijing,
)

ONE_DAY = dt.timedelta(days=1)
WORKING = "working_days"
CALENDAR = "calendar_days"
DEFAULT_RULE = RuleSpec(
    id=None,
    levels=(
        LevelSpec("warning", 30, WORKING, False),
        LevelSpec("critical", 40, WORKING, False),
        LevelSpec("overdue", None, WORKING, True),
    ),
    repeat_every=10,
)


def counting_days(days: ClockDays, first: dt.date, last: dt.date, unit: str) -> int:
    """The days in (first, last] that count in `unit`, by walking them one by one."""
    total, day = 0, first + ONE_DAY
    while day <= last:
        if day not in days.paused and (unit == CALENDAR or days.calendar.is_working_day(day)):
            total += 1
        day += ONE_DAY
    return total


def engine_days(calendar, start_at, events, stops, today: dt.date) -> ClockDays:
    """ClockDays as the engine builds them (licensing.services.delays._clock_days)."""
    start = start_at.astimezone(SHANGHAI).date()
    paused = _paused_dates(events, stops, start=start, end=today, zone=SHANGHAI)
    return ClockDays(start=start, today=today, calendar=calendar, paused=frozenset(paused))


def clock_at(calendar, start_at, events, stops, today, *, period=45, unit=WORKING):
    return compute_clock(
        clock_started_at=start_at,
        decided_at=None,
        period=period,
        unit=unit,
        zone=SHANGHAI,
        calendar=calendar,
        events=events,
        stops=stops,
        has_deadline=True,
        now=beijing(today, 23),
    )


def assessed(calendar, today, *, events=(), stops=(), rule=DEFAULT_RULE):
    start_at = beijing(ACCEPTED)
    days = engine_days(calendar, start_at, events, stops, today)
    deadline = clock_at(calendar, start_at, events, stops, today).statutory_deadline
    return assess_levels(rule, days, deadline)


# --- hand-counted cases ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "level", "next_level", "next_day"),
    [
        (WARNING_DAY - ONE_DAY, "none", "warning", WARNING_DAY),
        (WARNING_DAY, "warning", "critical", CRITICAL_DAY),
        (CRITICAL_DAY, "critical", "overdue", DEADLINE),
        (DEADLINE - ONE_DAY, "critical", "overdue", DEADLINE),
        (DEADLINE, "overdue", "overdue", REPEAT_1_DAY),
        (REPEAT_1_DAY, "overdue", "overdue", REPEAT_2_DAY),
        # New Year 2026: 1-3 January off, Sunday 4 January worked.
        (dt.date(2026, 1, 3), "overdue", "overdue", REPEAT_2_DAY),
    ],
)
def test_the_default_levels_across_national_day_and_new_year(
    cn_calendar, today, level, next_level, next_day
):
    assessment = assessed(cn_calendar, today)
    assert assessment.level == level
    assert (assessment.next_point.level, assessment.next_point.day) == (next_level, next_day)


def test_a_late_assessment_lists_every_point_passed_with_its_repeat_index(cn_calendar):
    assessment = assessed(cn_calendar, dt.date(2026, 1, 5))
    assert [(p.level, p.repeat_index, p.day) for p in assessment.reached] == [
        ("warning", 0, WARNING_DAY),
        ("critical", 0, CRITICAL_DAY),
        ("overdue", 0, DEADLINE),
        ("overdue", 1, REPEAT_1_DAY),
        ("overdue", 2, REPEAT_2_DAY),
    ]
    assert assessment.next_point.repeat_index == 3


def test_an_information_request_over_national_day_pauses_only_its_working_days(cn_calendar):
    # Requested Tue 30 Sep, answered Thu 9 Oct: (30 Sep, 9 Oct] holds one working day, 9 Oct.
    events = [
        StatusEvent("info_requested", beijing("2025-09-30")),
        StatusEvent("under_review", beijing("2025-10-09")),
    ]
    clock = clock_at(cn_calendar, beijing(ACCEPTED), events, [], dt.date(2025, 10, 15))
    assert clock.paused_days == 1
    assert clock.elapsed == 8  # 28, 29, 30 Sep, 10, 11 (make-up Sat), 13, 14, 15 Oct
    assert clock.statutory_deadline == DEADLINE + ONE_DAY  # Friday 5 December
    assessment = assessed(cn_calendar, dt.date(2025, 11, 13), events=events)
    assert assessment.level == "none"
    assert assessment.next_point.day == dt.date(2025, 11, 14)


def test_a_clock_stop_over_a_make_up_weekend_pauses_the_make_up_day_only(cn_calendar):
    # Sat 11 Oct was worked, Sun 12 Oct was not: a stop over both costs one working day.
    stops = [StopPeriod(dt.date(2025, 10, 11), dt.date(2025, 10, 12))]
    clock = clock_at(cn_calendar, beijing(ACCEPTED), [], stops, dt.date(2025, 10, 15))
    assert (clock.paused_days, clock.elapsed) == (1, 8)
    assessment = assessed(cn_calendar, DEADLINE, stops=stops)
    assert assessment.level == "critical"
    assert assessment.next_point.day == DEADLINE + ONE_DAY


def test_an_open_request_keeps_the_next_level_out_of_reach(cn_calendar):
    events = [StatusEvent("info_requested", beijing("2025-11-07"))]  # day 26
    for today in (WARNING_DAY, CRITICAL_DAY, DEADLINE, dt.date(2026, 2, 2)):
        assessment = assessed(cn_calendar, today, events=events)
        assert assessment.level == "none"
        assert assessment.next_point.level == "warning"
        assert assessment.next_point.day > today


# --- properties ---------------------------------------------------------------------------------

starts = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 6, 30))
units = st.sampled_from([WORKING, CALENDAR])


@st.composite
def histories(draw):
    """A clock start, information requests (the last may be open) and clock stops."""
    start = draw(starts)
    start_at = dt.datetime.combine(start, dt.time(draw(st.integers(0, 23))), tzinfo=SHANGHAI)
    offsets = sorted(draw(st.lists(st.integers(0, 150), max_size=6, unique=True)))
    events = [
        StatusEvent(
            "info_requested" if index % 2 == 0 else "under_review",
            start_at + dt.timedelta(days=offset, hours=draw(st.integers(0, 12))),
        )
        for index, offset in enumerate(offsets)
    ]
    stops = [
        StopPeriod(
            start + dt.timedelta(days=first),
            None if length is None else start + dt.timedelta(days=first + length),
        )
        for first, length in draw(
            st.lists(st.tuples(st.integers(-5, 150), st.none() | st.integers(0, 20)), max_size=3)
        )
    ]
    return start_at, events, stops


@st.composite
def rules(draw):
    """A rule of one to three distinct levels, each at N days (either unit) or at the deadline."""
    names = draw(
        st.lists(st.sampled_from(["warning", "critical", "overdue"]), min_size=1, unique=True)
    )
    levels = []
    for name in names:
        if draw(st.booleans()):
            levels.append(LevelSpec(name, None, WORKING, True))
        else:
            levels.append(LevelSpec(name, draw(st.integers(1, 90)), draw(units), False))
    repeat = draw(st.none() | st.integers(1, 20))
    return RuleSpec(id=None, levels=tuple(levels), repeat_every=repeat, repeat_unit=draw(units))


@given(
    start=starts,
    paused_offsets=st.sets(st.integers(-5, 200), max_size=40),
    count=st.integers(0, 90),
    unit=units,
    from_offset=st.none() | st.integers(0, 120),
)
def test_day_reaching_agrees_with_counting(
    cn_calendar, start, paused_offsets, count, unit, from_offset
):
    days = ClockDays(
        start=start,
        today=start,
        calendar=cn_calendar,
        paused=frozenset(start + dt.timedelta(days=offset) for offset in paused_offsets),
    )
    origin = start if from_offset is None else start + dt.timedelta(days=from_offset)

    reached = days.day_reaching(count, unit, start=None if from_offset is None else origin)

    assert counting_days(days, origin, reached, unit) == count
    if count:
        # ... and not a day earlier: the day reached is itself a counting day.
        assert counting_days(days, origin, reached - ONE_DAY, unit) == count - 1
    else:
        assert reached == origin


@given(histories(), st.integers(0, 300), st.integers(1, 90), units)
def test_the_elapsed_wait_and_the_deadline_agree_with_the_engines_counting_days(
    cn_calendar, history, today_offset, period, unit
):
    start_at, events, stops = history
    today = start_at.astimezone(SHANGHAI).date() + dt.timedelta(days=today_offset)
    days = engine_days(cn_calendar, start_at, events, stops, today)
    clock = clock_at(cn_calendar, start_at, events, stops, today, period=period, unit=unit)

    assert clock.elapsed == counting_days(days, days.start, today, unit)
    # The overdue point (the deadline) and a level "at `period` days" fall on the same day.
    assert clock.statutory_deadline == days.day_reaching(period, unit)


@given(histories(), rules(), st.integers(0, 300), st.integers(0, 120))
def test_the_level_never_falls_and_the_elapsed_wait_never_shrinks_as_days_pass(
    cn_calendar, history, rule, first, extra
):
    start_at, events, stops = history
    start = start_at.astimezone(SHANGHAI).date()
    earlier, later = start + dt.timedelta(days=first), start + dt.timedelta(days=first + extra)

    def state(today):
        days = engine_days(cn_calendar, start_at, events, stops, today)
        clock = clock_at(cn_calendar, start_at, events, stops, today)
        return clock.elapsed, assess_levels(rule, days, clock.statutory_deadline)

    elapsed_before, before = state(earlier)
    elapsed_after, after = state(later)
    assert 0 <= elapsed_before <= elapsed_after
    assert DELAY_LEVEL_RANK[before.level] <= DELAY_LEVEL_RANK[after.level]
    # What was reached stays reached, on the same day.
    assert set(before.reached) <= set(after.reached)


@given(
    histories(),
    rules(),
    st.integers(0, 300),
    st.integers(-5, 150),
    st.none() | st.integers(0, 30),
)
def test_a_pause_never_adds_time_nor_brings_a_level_forward(
    cn_calendar, history, rule, today_offset, stop_offset, stop_length
):
    start_at, events, stops = history
    start = start_at.astimezone(SHANGHAI).date()
    today = start + dt.timedelta(days=today_offset)
    stop = StopPeriod(
        start + dt.timedelta(days=stop_offset),
        None if stop_length is None else start + dt.timedelta(days=stop_offset + stop_length),
    )

    def state(all_stops):
        days = engine_days(cn_calendar, start_at, events, all_stops, today)
        clock = clock_at(cn_calendar, start_at, events, all_stops, today)
        return days, clock, assess_levels(rule, days, clock.statutory_deadline)

    days, clock, assessment = state(stops)
    paused_days, paused_clock, paused_assessment = state([*stops, stop])

    assert paused_clock.elapsed <= clock.elapsed
    assert paused_clock.statutory_deadline >= clock.statutory_deadline
    assert DELAY_LEVEL_RANK[paused_assessment.level] <= DELAY_LEVEL_RANK[assessment.level]
    for spec in rule.levels:
        if spec.after is not None:
            assert paused_days.day_reaching(spec.after, spec.unit) >= days.day_reaching(
                spec.after, spec.unit
            )


@given(histories(), rules(), st.integers(0, 400), st.booleans())
def test_assess_levels_reports_each_level_from_its_day_on_and_the_next_point_after_today(
    cn_calendar, history, rule, today_offset, has_deadline
):
    start_at, events, stops = history
    today = start_at.astimezone(SHANGHAI).date() + dt.timedelta(days=today_offset)
    days = engine_days(cn_calendar, start_at, events, stops, today)
    deadline = clock_at(cn_calendar, start_at, events, stops, today).statutory_deadline
    deadline = deadline if has_deadline else None

    assessment = assess_levels(rule, days, deadline)

    level_days = {}
    for spec in rule.levels:
        if spec.at_statutory_deadline:
            if deadline is not None:
                level_days[spec.level] = deadline
        else:
            level_days[spec.level] = days.day_reaching(spec.after, spec.unit)
            # The day a level is reached, the wait has reached its days, and not before.
            day = level_days[spec.level]
            assert counting_days(days, days.start, day, spec.unit) >= spec.after
            assert counting_days(days, days.start, day - ONE_DAY, spec.unit) < spec.after

    first_points = {(p.level, p.day) for p in assessment.reached if p.repeat_index == 0}
    assert first_points == {(level, day) for level, day in level_days.items() if day <= today}
    for point in assessment.reached:
        assert point.day <= today
    assert assessment.level == max(
        (p.level for p in assessment.reached), key=DELAY_LEVEL_RANK.__getitem__, default="none"
    )

    repeats = [p for p in assessment.reached if p.repeat_index]
    assert [p.repeat_index for p in repeats] == list(range(1, len(repeats) + 1))
    assert [p.day for p in repeats] == sorted({p.day for p in repeats})
    if repeats:
        assert rule.repeat_every
        assert {p.level for p in repeats} == {assessment.level}

    upcoming = [day for day in level_days.values() if day > today]
    if assessment.next_point is None:
        assert not upcoming
        assert not rule.repeat_every or not level_days
    else:
        assert assessment.next_point.day > today
        assert all(assessment.next_point.day <= day for day in upcoming)


@given(histories(), st.integers(0, 300))
def test_with_no_deadline_nothing_is_ever_overdue(cn_calendar, history, today_offset):
    start_at, events, stops = history
    today = start_at.astimezone(SHANGHAI).date() + dt.timedelta(days=today_offset)
    days = engine_days(cn_calendar, start_at, events, stops, today)

    assessment = assess_levels(DEFAULT_RULE, days, None)

    assert assessment.level != "overdue"
    assert all(point.level != "overdue" for point in assessment.reached)
    if assessment.next_point:
        assert assessment.next_point.level != "overdue"
