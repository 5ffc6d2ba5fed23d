"""The statutory clock (licensing.clock): Civil Code counting, pauses, and no-deadline cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licensing.clock import StatusEvent, StopPeriod, application_clock, compute_clock
from licensing.services.applications import application_update, clock_stop_record
from tests.factories import LicenseApplicationFactory, walk_application

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
D = dt.date.fromisoformat


def beijing(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(D(day), dt.time(hour), tzinfo=SHANGHAI)


# The hand count for an application accepted on Friday 26 September 2025 (CN calendar):
#   26 Sep (Fri)        acceptance day: does not count (Civil Code art. 201)
#   27 Sep (Sat)        day off
#   28 Sep (Sun)        make-up working day ........................ day  1
#   29, 30 Sep                                                         days 2-3
#   1-8 Oct             National Day and Mid-Autumn holiday: off
#   9, 10 Oct (Thu-Fri)                                                days 4-5
#   11 Oct (Sat)        make-up working day ........................ day  6
#   13-17 Oct                                                          days 7-11
#   20-24 Oct                                                          days 12-16
#   27-31 Oct                                                          days 17-21
#   3-7 Nov                                                            days 22-26
#   10-14 Nov                                                          days 27-31
#   17-21 Nov                                                          days 32-36
#   24-28 Nov                                                          days 37-41
#   1-4 Dec (Mon-Thu)                                                  days 42-45
# Deadline: Thursday 4 December 2025, the 45th working day after acceptance.
ACCEPTED_26_SEP = beijing("2025-09-26")
DEADLINE_26_SEP = D("2025-12-04")


def accepted_application(accepted_at=ACCEPTED_26_SEP, *, review_from="2025-09-29", **kwargs):
    """A CN-MOFCOM application submitted, accepted at `accepted_at`, then under review."""
    application = LicenseApplicationFactory(**kwargs)
    walk_application(
        application,
        [
            ("submitted", accepted_at - dt.timedelta(days=6)),
            ("accepted", accepted_at),
            ("under_review", beijing(review_from)),
        ],
    )
    return application


# --- Civil Code counting --------------------------------------------------------------------------


@pytest.mark.django_db
def test_deadline_is_the_45th_working_day_after_acceptance_across_national_day(mofcom):
    application = accepted_application(authority=mofcom)

    clock = application_clock(application, now=beijing("2025-10-15", 18))
    assert clock.statutory_deadline == DEADLINE_26_SEP
    assert clock.unit == "working_days"
    assert clock.is_running
    # 28, 29, 30 Sep, 9, 10, 11, 13, 14, 15 Oct
    assert clock.elapsed == 9
    assert clock.paused_days == 0


@pytest.mark.django_db
def test_the_day_of_acceptance_does_not_count(mofcom):
    application = accepted_application(authority=mofcom)
    assert application_clock(application, now=beijing("2025-09-26", 23)).elapsed == 0
    assert application_clock(application, now=beijing("2025-09-27", 23)).elapsed == 0  # Sat
    assert application_clock(application, now=beijing("2025-09-28", 9)).elapsed == 1
    assert application_clock(application, now=beijing("2025-12-03", 12)).elapsed == 44
    assert application_clock(application, now=beijing("2025-12-04", 12)).elapsed == 45


@pytest.mark.django_db
def test_dates_are_read_in_the_authoritys_time_zone(mofcom):
    # 17:00 UTC on Sunday 28 Sep is 01:00 on Monday 29 Sep in Beijing: the clock starts on
    # the 29th, so neither the 28th nor the 29th counts. Day 1 is 30 Sep, days 2-3 are
    # 9-10 Oct, day 4 is Sat 11 Oct, days 5-39 are 13 Oct - 28 Nov (7 weeks), days 40-44
    # are 1-5 Dec, and day 45 is Monday 8 December 2025.
    application = accepted_application(
        dt.datetime(2025, 9, 28, 17, 0, tzinfo=dt.UTC), review_from="2025-09-30", authority=mofcom
    )
    clock = application_clock(application, now=beijing("2025-10-15", 18))
    assert clock.statutory_deadline == D("2025-12-08")
    assert clock.elapsed == 7  # 30 Sep, 9, 10, 11, 13, 14, 15 Oct


def test_compute_clock_counts_the_same_without_a_database(cn_calendar):
    clock = compute_clock(
        clock_started_at=ACCEPTED_26_SEP,
        decided_at=None,
        period=45,
        unit="working_days",
        zone=SHANGHAI,
        calendar=cn_calendar,
        events=[],
        stops=[],
        has_deadline=True,
        now=beijing("2025-12-04", 12),
    )
    assert (clock.statutory_deadline, clock.elapsed, clock.is_running) == (
        DEADLINE_26_SEP,
        45,
        True,
    )


@pytest.mark.django_db
def test_bis_counts_90_calendar_days_from_submission_in_new_york(us_bis):
    # 10 Jan + 90 days: 21 days to 31 Jan, 28 to 28 Feb (49), 31 to 31 Mar (80), 10 Apr (90).
    application = LicenseApplicationFactory(authority=us_bis)
    walk_application(application, [("submitted", dt.datetime(2025, 1, 10, 15, 0, tzinfo=NEW_YORK))])
    clock = application_clock(application, now=dt.datetime(2025, 2, 9, 12, 0, tzinfo=NEW_YORK))
    assert clock.unit == "calendar_days"
    assert clock.statutory_deadline == D("2025-04-10")
    assert clock.elapsed == 30


@pytest.mark.django_db
def test_bis_reads_a_late_evening_utc_submission_as_the_previous_day(us_bis):
    # 03:00 UTC on 10 Jan is 22:00 on 9 Jan in New York: the 90 days end on 9 April.
    application = LicenseApplicationFactory(authority=us_bis)
    walk_application(application, [("submitted", dt.datetime(2025, 1, 10, 3, 0, tzinfo=dt.UTC))])
    clock = application_clock(application, now=dt.datetime(2025, 2, 9, 12, 0, tzinfo=NEW_YORK))
    assert clock.statutory_deadline == D("2025-04-09")
    assert clock.elapsed == 31


@pytest.mark.django_db
def test_no_clock_before_the_start_event(mofcom):
    application = LicenseApplicationFactory(authority=mofcom)
    walk_application(application, [("submitted", beijing("2025-09-20"))])
    clock = application_clock(application, now=beijing("2025-10-20"))
    assert (clock.elapsed, clock.statutory_deadline, clock.is_running) == (0, None, False)


# --- pauses -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_request_for_information_pauses_the_clock_until_review_resumes(mofcom):
    application = accepted_application(authority=mofcom)
    walk_application(
        application,
        [("info_requested", beijing("2025-10-13")), ("under_review", beijing("2025-10-17"))],
    )
    clock = application_clock(application, now=beijing("2025-10-20", 18))
    # Paused (13 Oct, 17 Oct]: 14, 15, 16, 17 Oct. Counted up to 20 Oct: 12 - 4 = 8.
    assert clock.paused_days == 4
    assert clock.elapsed == 8
    # 4 Dec + 4 working days: 5, 8, 9, 10 Dec.
    assert clock.statutory_deadline == D("2025-12-10")


@pytest.mark.django_db
def test_an_open_request_for_information_stops_the_clock_today(mofcom):
    application = accepted_application(authority=mofcom)
    walk_application(application, [("info_requested", beijing("2025-10-13"))])

    on_the_day = application_clock(application, now=beijing("2025-10-13", 18))
    three_days_later = application_clock(application, now=beijing("2025-10-16", 18))
    a_week_later = application_clock(application, now=beijing("2025-10-20", 18))
    assert on_the_day.elapsed == three_days_later.elapsed == a_week_later.elapsed == 7
    assert a_week_later.paused_days == 5  # 14-17 and 20 Oct
    assert a_week_later.statutory_deadline == D("2025-12-11")  # 4 Dec + 5 working days
    assert a_week_later.is_running


@pytest.mark.django_db
def test_a_recorded_clock_stop_pauses_the_clock_both_dates_inclusive(mofcom, actor):
    application = accepted_application(authority=mofcom)
    clock_stop_record(
        application=application,
        kind="expert_review",
        started_on=D("2025-10-20"),
        ended_on=D("2025-10-24"),
        actor=actor,
    )
    clock = application_clock(application, now=beijing("2025-10-27", 18))
    # Counted up to 27 Oct: 17 working days, less 20-24 Oct (5) = 12.
    assert (clock.elapsed, clock.paused_days) == (12, 5)
    assert clock.statutory_deadline == D("2025-12-11")


@pytest.mark.django_db
def test_an_open_clock_stop_pauses_the_clock_through_today(mofcom, actor):
    application = accepted_application(authority=mofcom)
    clock_stop_record(
        application=application,
        kind="onsite_verification",
        started_on=D("2025-10-20"),
        actor=actor,
    )
    before = application_clock(application, now=beijing("2025-10-17", 18))
    during = application_clock(application, now=beijing("2025-10-22", 18))
    later = application_clock(application, now=beijing("2025-10-24", 18))
    assert before.elapsed == during.elapsed == later.elapsed == 11
    assert later.paused_days == 5


@pytest.mark.django_db
@pytest.mark.parametrize("flag", ["is_escalated", "involves_watch_listed_party"])
def test_escalated_or_watch_listed_cases_have_no_deadline(mofcom, actor, flag):
    application = accepted_application(authority=mofcom)
    assert application_clock(application, now=beijing("2025-10-15")).statutory_deadline

    application_update(application=application, actor=actor, **{flag: True})

    clock = application_clock(application, now=beijing("2025-10-15", 18))
    assert clock.statutory_deadline is None
    assert clock.elapsed == 9  # the days waited are still counted


@pytest.mark.django_db
def test_a_decided_applications_clock_stops_growing(mofcom):
    application = accepted_application(authority=mofcom)
    walk_application(
        application,
        [("approved", beijing("2025-11-03"))],
        valid_from=D("2025-11-03"),
        valid_until=D("2026-11-02"),
    )
    at_decision = application_clock(application, now=beijing("2025-11-03", 18))
    a_week_later = application_clock(application, now=beijing("2025-11-10", 18))
    months_later = application_clock(application, now=beijing("2026-03-01", 18))
    # 28-30 Sep (3), 9-11 Oct (3), 13-31 Oct (15), 3 Nov (1)
    assert at_decision.elapsed == a_week_later.elapsed == months_later.elapsed == 22
    assert not months_later.is_running


# --- properties of compute_clock --------------------------------------------------------------------


@st.composite
def clocks(draw):
    """Inputs of compute_clock: a start, information requests, clock stops, a unit and a period."""
    start = draw(st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2027, 6, 30)))
    started_at = dt.datetime.combine(start, dt.time(draw(st.integers(0, 23))), tzinfo=SHANGHAI)
    # Requests and resumptions alternate on distinct days; an odd count leaves one open.
    days = sorted(draw(st.lists(st.integers(0, 200), max_size=6, unique=True)))
    events = [
        StatusEvent(
            "info_requested" if index % 2 == 0 else "under_review",
            started_at + dt.timedelta(days=offset, hours=draw(st.integers(0, 23))),
        )
        for index, offset in enumerate(days)
    ]
    stops = [
        StopPeriod(
            start + dt.timedelta(days=first),
            None if length is None else start + dt.timedelta(days=first + length),
        )
        for first, length in draw(
            st.lists(st.tuples(st.integers(-10, 200), st.none() | st.integers(0, 30)), max_size=3)
        )
    ]
    return {
        "clock_started_at": started_at,
        "decided_at": None,
        "period": draw(st.integers(1, 90)),
        "unit": draw(st.sampled_from(["working_days", "calendar_days"])),
        "zone": SHANGHAI,
        "events": events,
        "stops": stops,
        "has_deadline": True,
    }


def later(inputs, days: int, hour: int = 12) -> dt.datetime:
    start = inputs["clock_started_at"].astimezone(SHANGHAI).date()
    return dt.datetime.combine(start + dt.timedelta(days=days), dt.time(hour), tzinfo=SHANGHAI)


offsets = st.integers(min_value=0, max_value=320)


@given(clocks(), offsets, offsets)
def test_elapsed_never_decreases_as_now_grows(cn_calendar, inputs, first, second):
    earlier_now, later_now = sorted((later(inputs, first), later(inputs, second)))
    earlier = compute_clock(**inputs, calendar=cn_calendar, now=earlier_now)
    latest = compute_clock(**inputs, calendar=cn_calendar, now=later_now)
    assert 0 <= earlier.elapsed <= latest.elapsed


@given(clocks(), offsets, st.integers(-10, 200), st.none() | st.integers(0, 30))
def test_a_clock_stop_never_adds_elapsed_days_nor_brings_the_deadline_forward(
    cn_calendar, inputs, now_offset, stop_start, stop_length
):
    now = later(inputs, now_offset)
    start = inputs["clock_started_at"].date()
    stop = StopPeriod(
        start + dt.timedelta(days=stop_start),
        None if stop_length is None else start + dt.timedelta(days=stop_start + stop_length),
    )
    without = compute_clock(**inputs, calendar=cn_calendar, now=now)
    paused = compute_clock(
        **inputs | {"stops": [*inputs["stops"], stop]}, calendar=cn_calendar, now=now
    )
    assert paused.elapsed <= without.elapsed
    assert paused.statutory_deadline >= without.statutory_deadline
    assert paused.paused_days >= without.paused_days


@given(clocks(), offsets, st.integers(0, 40), st.integers(0, 40))
def test_a_request_for_information_never_adds_elapsed_days_nor_brings_the_deadline_forward(
    cn_calendar, inputs, now_offset, gap, length
):
    if len(inputs["events"]) % 2:
        inputs["events"] = inputs["events"][:-1]  # close the open request first
    last = inputs["events"][-1].occurred_at if inputs["events"] else inputs["clock_started_at"]
    requested = last + dt.timedelta(days=gap + 1)
    extra = [
        StatusEvent("info_requested", requested),
        StatusEvent("under_review", requested + dt.timedelta(days=length)),
    ]
    now = later(inputs, now_offset)
    without = compute_clock(**inputs, calendar=cn_calendar, now=now)
    paused = compute_clock(
        **inputs | {"events": [*inputs["events"], *extra]}, calendar=cn_calendar, now=now
    )
    assert paused.elapsed <= without.elapsed
    assert paused.statutory_deadline >= without.statutory_deadline


@given(clocks())
def test_the_deadline_is_the_day_the_last_counting_day_is_reached(cn_calendar, inputs):
    # An open pause is assumed to end "today", which moves with `now`: close every pause,
    # then read the deadline from long after the last one.
    if len(inputs["events"]) % 2:
        inputs["events"] = inputs["events"][:-1]
    inputs["stops"] = [stop for stop in inputs["stops"] if stop.ended_on is not None]
    settled = compute_clock(**inputs, calendar=cn_calendar, now=later(inputs, 700))
    deadline = settled.statutory_deadline
    at_deadline = dt.datetime.combine(deadline, dt.time(23), tzinfo=SHANGHAI)
    the_day_before = at_deadline - dt.timedelta(days=1)
    assert (
        compute_clock(**inputs, calendar=cn_calendar, now=at_deadline).elapsed == (inputs["period"])
    )
    assert compute_clock(**inputs, calendar=cn_calendar, now=the_day_before).elapsed == (
        inputs["period"] - 1
    )
    if inputs["unit"] == "working_days":
        assert cn_calendar.is_working_day(deadline)


@given(clocks(), st.integers(0, 200), offsets)
def test_after_the_decision_elapsed_no_longer_changes(cn_calendar, inputs, decided_day, extra):
    inputs["decided_at"] = later(inputs, decided_day, hour=10)
    at_decision = compute_clock(**inputs, calendar=cn_calendar, now=inputs["decided_at"])
    afterwards = compute_clock(
        **inputs, calendar=cn_calendar, now=inputs["decided_at"] + dt.timedelta(days=extra)
    )
    assert afterwards.elapsed == at_decision.elapsed
    assert not afterwards.is_running


@given(clocks(), offsets)
def test_without_a_deadline_the_days_are_still_counted(cn_calendar, inputs, now_offset):
    now = later(inputs, now_offset)
    with_deadline = compute_clock(**inputs, calendar=cn_calendar, now=now)
    without = compute_clock(**inputs | {"has_deadline": False}, calendar=cn_calendar, now=now)
    assert without.statutory_deadline is None
    assert without.elapsed == with_deadline.elapsed
