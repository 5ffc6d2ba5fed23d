"""The estimator (licensing.forecast) through `windows_for`, the entry point the services use:
Kaplan-Meier, conditional quantiles, the fallbacks. No database."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter
from collections.abc import Iterable

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from licensing.clock import ClockDays
from licensing.forecast import (
    Basis,
    ForecastSubject,
    SurvivalCurve,
    fit_strata,
    stratum_key,
)
from licensing.services.forecasts import OpenClock, windows_for
from tests.forecast.history import weibull_days, weibull_quantile

AUTHORITY = uuid.UUID(int=1)
ITEM = uuid.UUID(int=2)
SUBJECT = ForecastSubject(
    organization_id=None,
    authority_id=AUTHORITY,
    item_id=ITEM,
    material_family="rare_earth",
    destination_country="DE",
)


def km(observations: Iterable[tuple[int, bool]]) -> SurvivalCurve:
    """The curve of (duration, decided?) observations, undecided ones censored at their duration."""
    return SurvivalCurve.from_counts(Counter(observations))


def window_of(curves, *, age: int, days: ClockDays, deadline, min_sample: int = 20, by_level=None):
    """The window `windows_for` computes for one open application of SUBJECT."""
    clock = OpenClock(
        id=1,
        version=1,
        organization_id=None,
        subject=SUBJECT,
        unit="working_days",
        age=age,
        days=days,
        statutory_deadline=deadline,
        stored=(),
        clock_key=("test", age),
    )
    with override_settings(
        FORECAST_MIN_SAMPLE=min_sample, FORECAST_MIN_SAMPLE_BY_LEVEL=by_level or {}
    ):
        [window] = windows_for([clock], curves)
    return window


def test_kaplan_meier_matches_a_hand_computed_example():
    # Durations 3, 5, 5+, 8, 10+, 12 (+ = censored: withdrawn or still open at that age).
    curve = km([(3, True), (5, True), (5, False), (8, True), (10, False), (12, True)])
    # t=3: 6 at risk, 1 decided -> 5/6; t=5: 5 at risk, 1 decided (the censored 5 still at
    # risk) -> 5/6 * 4/5 = 2/3; t=8: 3 at risk -> 2/3 * 2/3 = 4/9; t=10 censored: no step;
    # t=12: 1 at risk -> 0.
    steps = curve.steps()
    assert [t for t, _ in steps] == [3, 5, 8, 12]
    assert [s for _, s in steps] == pytest.approx([5 / 6, 2 / 3, 4 / 9, 0.0])
    assert curve.survival(4) == pytest.approx(5 / 6)
    assert curve.survival(11) == pytest.approx(4 / 9)
    assert curve.conditional_quantile(0.5, 0) == 8  # first S(t) <= 0.5
    assert curve.conditional_quantile(0.9, 0) == 12
    # Open at age 6: S(5) = 2/3; the median needs S(t) <= 1/3, which only t=12 gives.
    assert curve.conditional_quantile(0.5, 6) == 12
    assert curve.decided_from(6) == 2
    # Past every decision: no estimate.
    assert curve.conditional_quantile(0.5, 13) is None


def test_a_censored_tail_that_never_falls_far_enough_has_no_p90():
    curve = km([(10, True), (20, False), (20, False), (20, False)])
    assert curve.conditional_quantile(0.5, 0) is None  # S only reaches 3/4
    assert curve.conditional_quantile(0.2, 0) == 10


def test_stored_rows_round_trip():
    curve = km([(3, True), (5, True), (5, False), (9, False)])
    assert SurvivalCurve.from_rows(curve.rows()) == curve


@pytest.mark.parametrize("censoring", [0.0, 0.3])
def test_kaplan_meier_recovers_a_known_distribution_with_censoring(censoring):
    """Weibull(45, 2) working days: median 38 and p90 69. With a share of the applications
    censored at an independent uniform time (withdrawn, or still open), a naive median of
    the decided ones would be biased low; Kaplan-Meier must stay within 2 days (median) and
    4 days (p90) of the truth, and within 3 and 5 days conditionally on a wait of 41 days."""
    rng = random.Random(7)
    observations = []
    for _ in range(3000):
        days = weibull_days(rng)
        censored_at = rng.randint(0, 150) if rng.random() < censoring else None
        if censored_at is not None and censored_at < days:
            observations.append((censored_at, False))
        else:
            observations.append((days, True))
    curve = km(observations)
    assert weibull_quantile(0.5) == 38 and weibull_quantile(0.9) == 69
    assert abs(curve.conditional_quantile(0.5, 0) - 38) <= 2
    assert abs(curve.conditional_quantile(0.9, 0) - 69) <= 4
    # Given a wait of 41 days (T >= 41, i.e. X > 40), P(X <= t | X > 40) = 1 - exp((40² - t²) / 45²):
    # median ceil(sqrt(40² + 45² ln 2)) = 55, p90 ceil(sqrt(40² + 45² ln 10)) = 80.
    assert abs(curve.conditional_quantile(0.5, 41) - 55) <= 3
    assert abs(curve.conditional_quantile(0.9, 41) - 80) <= 5


def _days(start: dt.date, today: dt.date, cn_calendar, paused=()) -> ClockDays:
    return ClockDays(start=start, today=today, calendar=cn_calendar, paused=frozenset(paused))


@given(
    durations=st.lists(st.tuples(st.integers(0, 120), st.booleans()), min_size=1, max_size=60),
    age=st.integers(0, 130),
    offset=st.integers(0, 200),
    pause=st.integers(0, 10),
)
def test_the_window_is_never_in_the_past(cn_calendar, durations, age, offset, pause):
    """Whatever the history and the wait, p50 <= p90 and neither lies before today."""
    start = dt.date(2025, 3, 3) + dt.timedelta(days=offset)
    today = cn_calendar.add_working_days(start, age)
    paused = {today - dt.timedelta(days=i) for i in range(pause)}
    curve = km(durations)
    window = window_of(
        {stratum_key(Basis.AUTHORITY, SUBJECT): curve},
        age=age,
        days=_days(start, today, cn_calendar, paused),
        deadline=cn_calendar.add_working_days(start, 45),
        min_sample=1,
    )
    assert window.p50 is not None and window.p90 is not None
    assert today <= window.p50 <= window.p90
    if window.basis == Basis.AUTHORITY:
        assert age <= window.p50_days <= window.p90_days


def _curve(count: int, days: int = 30) -> SurvivalCurve:
    return km([(days + i % 5, True) for i in range(count)])


def _window(
    curves,
    *,
    age: int = 0,
    min_sample=20,
    by_level=None,
    cn_calendar,
    deadline=dt.date(2025, 5, 8),
):
    start = dt.date(2025, 3, 3)
    return window_of(
        curves,
        age=age,
        days=_days(start, cn_calendar.add_working_days(start, age), cn_calendar),
        deadline=deadline,
        min_sample=min_sample,
        by_level=by_level,
    )


def test_the_most_specific_level_with_enough_decisions_wins(cn_calendar):
    key = {
        level: stratum_key(level, SUBJECT)
        for level in Basis.__dict__.values()
        if isinstance(level, str)
    }
    curves = {
        key[Basis.AUTHORITY_ITEM_DESTINATION]: _curve(19, days=10),
        key[Basis.AUTHORITY_ITEM]: _curve(20, days=20),
        key[Basis.AUTHORITY_MATERIAL_FAMILY]: _curve(100, days=30),
        key[Basis.AUTHORITY]: _curve(500, days=40),
    }
    window = _window(curves, cn_calendar=cn_calendar)
    # 19 decisions for item + destination are one short of 20: the item level answers.
    assert window.basis == Basis.AUTHORITY_ITEM
    assert window.sample_size == 20
    assert window.p50_days == 22 and window.p50 == cn_calendar.add_working_days(
        dt.date(2025, 3, 3), 22
    )
    # With a lower minimum the most specific level answers.
    assert _window(curves, min_sample=19, cn_calendar=cn_calendar).basis == (
        Basis.AUTHORITY_ITEM_DESTINATION
    )
    # A minimum per level: the item level needs 50 here, the family level 20.
    per_level = {Basis.AUTHORITY_ITEM: 50}
    assert _window(curves, by_level=per_level, cn_calendar=cn_calendar).basis == (
        Basis.AUTHORITY_MATERIAL_FAMILY
    )
    # Without the family stratum, the authority alone.
    del curves[key[Basis.AUTHORITY_MATERIAL_FAMILY]]
    assert _window(curves, by_level=per_level, cn_calendar=cn_calendar).basis == Basis.AUTHORITY


def test_the_minimum_counts_decisions_at_or_after_the_current_wait(cn_calendar):
    """A level with 100 decisions, all before day 35, says nothing about an application
    that has waited 36 days: the next level, with decisions that late, answers."""
    curves = {
        stratum_key(Basis.AUTHORITY_ITEM, SUBJECT): _curve(100, days=30),
        stratum_key(Basis.AUTHORITY, SUBJECT): _curve(100, days=34),
    }
    window = _window(curves, age=36, cn_calendar=cn_calendar)
    assert window.basis == Basis.AUTHORITY
    assert window.sample_size == 60  # 20 decisions on each of days 36, 37 and 38
    assert window.p50_days == 37  # S(35) = 0.6; S(37) = 0.2 is the first <= 0.3


def test_too_little_history_falls_back_to_the_statutory_deadline(cn_calendar):
    curves = {stratum_key(Basis.AUTHORITY, SUBJECT): _curve(5)}
    window = _window(curves, cn_calendar=cn_calendar, deadline=dt.date(2025, 5, 8))
    assert (window.basis, window.p50, window.p90, window.sample_size) == (
        Basis.STATUTORY_DEADLINE,
        dt.date(2025, 5, 8),
        dt.date(2025, 5, 8),
        0,
    )
    # A deadline already passed: the decision is due any day from today, never in the past.
    late = _window(curves, age=60, cn_calendar=cn_calendar, deadline=dt.date(2025, 5, 8))
    assert late.basis == Basis.STATUTORY_DEADLINE
    assert late.p50 == late.p90 == cn_calendar.add_working_days(dt.date(2025, 3, 3), 60)
    # No deadline (escalated) and no history: no dates at all, and the basis says so.
    none = _window(curves, cn_calendar=cn_calendar, deadline=None)
    assert (none.basis, none.p50, none.p90) == (Basis.NO_ESTIMATE, None, None)


def test_dates_skip_the_paused_days(cn_calendar):
    start, today = dt.date(2025, 3, 3), dt.date(2025, 3, 10)  # Monday to Monday
    paused = {dt.date(2025, 3, 5), dt.date(2025, 3, 6)}  # two working days paused
    curves = {stratum_key(Basis.AUTHORITY, SUBJECT): _curve(40, days=10)}
    window = window_of(curves, age=3, days=_days(start, today, cn_calendar, paused), deadline=None)
    assert window.p50_days == 12
    # 12 counting days: 10 working days after the start plus the 2 paused ones.
    assert window.p50 == cn_calendar.add_working_days(start, 14)


def test_fit_strata_rolls_every_observation_up_every_level():
    other_item = ForecastSubject(None, AUTHORITY, uuid.UUID(int=3), "rare_earth", "JP")
    curves = fit_strata(
        [(SUBJECT, 10, True, 3, "a"), (other_item, 20, True, 2, "a"), (SUBJECT, 15, False, 1, "a")]
    )
    assert curves[stratum_key(Basis.AUTHORITY_ITEM_DESTINATION, SUBJECT)].total == 4
    assert curves[stratum_key(Basis.AUTHORITY_MATERIAL_FAMILY, SUBJECT)].total_decided == 5
    assert curves[stratum_key(Basis.AUTHORITY, other_item)].total == 6
    assert curves[stratum_key(Basis.AUTHORITY_ITEM, other_item)].total == 2


def test_pooled_strata_need_decisions_of_three_organizations():
    """Pooled (the subjects name no organization): a stratum stands only on decisions of at
    least `min_organizations` organizations; an organization whose applications are merely
    open (censored) does not count."""
    other_item = ForecastSubject(None, AUTHORITY, uuid.UUID(int=3), "rare_earth", "JP")
    observations = [
        (SUBJECT, 10, True, 30, "a"),
        (SUBJECT, 12, True, 30, "b"),
        (SUBJECT, 14, False, 5, "c"),  # open only
        (other_item, 20, True, 30, "c"),
    ]
    curves = fit_strata(observations, min_organizations=3)
    # Item + destination and item: organizations a and b decided there, c only waits.
    assert stratum_key(Basis.AUTHORITY_ITEM_DESTINATION, SUBJECT) not in curves
    assert stratum_key(Basis.AUTHORITY_ITEM, SUBJECT) not in curves
    assert stratum_key(Basis.AUTHORITY_ITEM, other_item) not in curves
    # The family and the authority hold decisions of a, b and c.
    assert curves[stratum_key(Basis.AUTHORITY, SUBJECT)].total == 95
    assert stratum_key(Basis.AUTHORITY_MATERIAL_FAMILY, SUBJECT) in curves
    # Not pooled (no minimum): every stratum is kept.
    assert stratum_key(Basis.AUTHORITY_ITEM, SUBJECT) in fit_strata(observations)
