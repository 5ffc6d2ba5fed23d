"""The expected decision window of an open application, from the service's own history.

Pure functions over plain inputs: licensing.services.forecasts reads the rows, calls these
and stores the results.

Durations are counted on the authority's clock: counting days from the clock start to the
decision, pauses excluded (working days for CN-MOFCOM, calendar days for US-BIS), the same
number `decision_working_days` stores and `wait.elapsed` shows.

The estimate:
- Survival (Kaplan-Meier) over the durations of a stratum. An approval or a denial is an
  event; a withdrawal, and an application still open, are censored at their age: we know
  only that the authority had not decided by then.
- Conditional on the current age `a` (the application is open now, so its decision day is
  today or later: T >= a), the p-quantile is the smallest t >= a with
  S(t) <= (1 - p) * S(a - 1). The window therefore never lies in the past.
- Strata, from the most specific: authority + item + destination, authority + item,
  authority + material family, authority. An application's "item" is the item of its first
  line (lowest position, then lowest id); its material family is that item's. A level is
  used when at least `min_sample` decisions in it came at or after the current age (for a
  new application: all its decisions) and both quantiles exist; else the next level down.
- With too little history at every level the window is the statutory deadline (basis
  `statutory_deadline`), or no window at all when no deadline applies (basis `no_estimate`).
- Days become dates on the authority's calendar from the clock start, skipping the days the
  clock was paused (an ongoing pause is assumed to end today), and never before today.
- Pooled strata (settings.SHARE_ANONYMOUS_STATS): the strata drop the organization, and a
  pooled stratum is kept only when decisions of at least `min_organizations` organizations
  (licensing.selectors.lead_times.POOL_MIN_ORGANIZATIONS, as the statistics) stand behind it;
  otherwise the next level answers. The count covers the whole stratum, not only the
  decisions after the current wait.

Two differences from `GET /api/v1/stats/lead-times/`, whose figures come from the same
stored durations:
- Quantiles: the window takes the lower Kaplan-Meier quantile (the smallest event time t with
  S(t) <= 1 - p, a day that occurred), the statistics PostgreSQL's `percentile_cont` (linear
  interpolation between the two nearest ranks, of decided applications only). The same group
  can therefore show a median a day or so apart (e.g. durations 10 and 12: window 10,
  statistics 11).
- Withdrawals are censored here (the application left undecided at that age), not dropped.
  A withdrawal competes with the decision, so treating it as "the authority would have
  decided later" makes p90 slightly pessimistic (later) where many applications are withdrawn.
"""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from core.calendars import WorkingCalendar
from licensing.clock import ClockDays, StatusEvent, StopPeriod, _local_date, compute_clock

# Quantiles of the window.
P50 = 0.5
P90 = 0.9
# Tolerance on survival comparisons: S(t) is a product of fractions and 0.5 must match 0.5.
EPSILON = 1e-9


class Basis:
    """What a stored window rests on (`expected_decision_basis`)."""

    AUTHORITY_ITEM_DESTINATION = "authority_item_destination"
    AUTHORITY_ITEM = "authority_item"
    AUTHORITY_MATERIAL_FAMILY = "authority_material_family"
    AUTHORITY = "authority"
    STATUTORY_DEADLINE = "statutory_deadline"
    NO_ESTIMATE = "no_estimate"


# The fallback hierarchy, most specific first.
LEVELS = (
    Basis.AUTHORITY_ITEM_DESTINATION,
    Basis.AUTHORITY_ITEM,
    Basis.AUTHORITY_MATERIAL_FAMILY,
    Basis.AUTHORITY,
)
HISTORY_BASES = frozenset(LEVELS)


@dataclass(frozen=True)
class SurvivalCurve:
    """Kaplan-Meier survival over integer durations.

    `times` ascending and distinct; at each, `decided` events and `censored` observations.
    An observation censored at t is still at risk at t (it was known undecided through t).
    """

    times: tuple[int, ...]
    decided: tuple[int, ...]
    censored: tuple[int, ...]

    @classmethod
    def from_counts(cls, counts: Mapping[tuple[int, bool], int]) -> SurvivalCurve:
        """From {(duration, decided?): how many}."""
        times = sorted({duration for duration, _ in counts})
        return cls(
            times=tuple(times),
            decided=tuple(counts.get((t, True), 0) for t in times),
            censored=tuple(counts.get((t, False), 0) for t in times),
        )

    def rows(self) -> list[list[int]]:
        """[[duration, decided, censored], ...]: the stored form (ForecastCurve.counts)."""
        return [list(row) for row in zip(self.times, self.decided, self.censored, strict=True)]

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]]) -> SurvivalCurve:
        return cls.from_counts(
            {**{(t, True): d for t, d, _ in rows}, **{(t, False): c for t, _, c in rows}}
        )

    @property
    def total_decided(self) -> int:
        return sum(self.decided)

    @property
    def total(self) -> int:
        return sum(self.decided) + sum(self.censored)

    @cached_property
    def _steps(self) -> tuple[tuple[int, float], ...]:
        return tuple(self.steps())

    def steps(self) -> list[tuple[int, float]]:
        """(t, S(t)) at each event time: S(t) = prod over t_i <= t of (1 - d_i / n_i)."""
        at_risk = self.total
        survival = 1.0
        steps = []
        for t, decided, censored in zip(self.times, self.decided, self.censored, strict=True):
            if decided:
                survival *= 1.0 - decided / at_risk
                steps.append((t, survival))
            at_risk -= decided + censored
        return steps

    @cached_property
    def _step_index(self) -> tuple[list[int], list[float], list[int]]:
        """Event times, -S(t) at each (ascending, for bisection), decisions from each time on."""
        times = [t for t, _ in self._steps]
        falling = [-survival for _, survival in self._steps]
        decided_at = dict(zip(self.times, self.decided, strict=True))
        from_here, running = [0] * len(times), 0
        for index in range(len(times) - 1, -1, -1):
            running += decided_at[times[index]]
            from_here[index] = running
        return times, falling, from_here

    def survival(self, t: int) -> float:
        """S(t) = P(T > t)."""
        times, falling, _ = self._step_index
        index = bisect.bisect_right(times, t)
        return -falling[index - 1] if index else 1.0

    def decided_from(self, age: int) -> int:
        """Decisions that came at or after `age`: the sample behind a conditional estimate."""
        times, _, from_here = self._step_index
        index = bisect.bisect_left(times, age)
        return from_here[index] if index < len(times) else 0

    def conditional_quantile(self, p: float, age: int) -> int | None:
        """The p-quantile of T given T >= age; None when the history does not reach it.

        The smallest event time t >= age with S(t) <= (1 - p) * S(age - 1).
        """
        times, falling, _ = self._step_index
        first = bisect.bisect_left(times, age)
        alive = -falling[first - 1] if first else 1.0  # S(age - 1)
        if alive <= EPSILON:
            return None
        # S is non-increasing, so -S is non-decreasing: bisect for -S(t) >= -(target + eps).
        target = (1.0 - p) * alive + EPSILON
        index = bisect.bisect_left(falling, -target, lo=first)
        return times[index] if index < len(times) else None


@dataclass(frozen=True)
class ForecastSubject:
    """What the strata of one application are keyed on (ids as the caller keys them: the
    services use strings, whose hash Python caches)."""

    organization_id: str | uuid.UUID | None
    authority_id: str | uuid.UUID
    item_id: str | uuid.UUID | None
    material_family: str
    destination_country: str


StratumKey = tuple


def stratum_key(level: str, subject: ForecastSubject) -> StratumKey | None:
    """The key of `subject`'s stratum at `level`; None when the subject has no item."""
    base = (level, subject.organization_id, subject.authority_id)
    if level == Basis.AUTHORITY_ITEM_DESTINATION:
        if subject.item_id is None:
            return None
        return (*base, subject.item_id, "", subject.destination_country)
    if level == Basis.AUTHORITY_ITEM:
        return None if subject.item_id is None else (*base, subject.item_id, "", "")
    if level == Basis.AUTHORITY_MATERIAL_FAMILY:
        return None if not subject.material_family else (*base, None, subject.material_family, "")
    return (*base, None, "", "")


def stratum_keys(subject: ForecastSubject) -> list[StratumKey]:
    """The keys of every level of `subject`, most specific first (levels without one omitted)."""
    return [key for level in LEVELS if (key := stratum_key(level, subject)) is not None]


def fit_strata(
    observations: Iterable[tuple[ForecastSubject, int, bool, int, object]],
    *,
    min_organizations: int | None = None,
) -> dict[StratumKey, SurvivalCurve]:
    """Curves for every stratum, from (subject, duration, decided?, how many, organization) rows.

    `organization` is the one the durations belong to, whether or not the subject's strata
    name it. With `min_organizations` (pooled strata), a stratum is left out unless
    decisions of at least that many distinct organizations are in it.
    """
    counts: dict[StratumKey, Counter] = {}
    deciders: dict[StratumKey, set] = {}
    for subject, duration, decided, how_many, organization in observations:
        for key in stratum_keys(subject):
            counts.setdefault(key, Counter())[(duration, decided)] += how_many
            if decided and how_many:
                deciders.setdefault(key, set()).add(organization)
    return {
        key: SurvivalCurve.from_counts(rows)
        for key, rows in counts.items()
        if min_organizations is None or len(deciders.get(key, ())) >= min_organizations
    }


@dataclass(frozen=True)
class Window:
    """An expected decision window: quantiles in counting days since the clock start, and dates."""

    basis: str
    sample_size: int = 0
    p50_days: int | None = None
    p90_days: int | None = None
    p50: dt.date | None = None
    p90: dt.date | None = None


def min_sample_for(level: str, min_sample: int | Mapping[str, int]) -> int:
    if isinstance(min_sample, int):
        return min_sample
    return min_sample.get(level, min_sample.get("default", 20))


@dataclass(frozen=True)
class Estimate:
    """The quantiles of one history-based estimate, in counting days since the clock start."""

    basis: str
    sample_size: int
    p50_days: int
    p90_days: int


def estimate_days(
    *,
    curves: Mapping[StratumKey, SurvivalCurve],
    keys: Sequence[StratumKey],
    age: int,
    min_sample: int | Mapping[str, int],
) -> Estimate | None:
    """The first level of `keys` (most specific first) with enough history; None if none has.

    Depends only on its arguments: callers computing many windows memoize it on (keys, age).
    """
    for key in keys:
        curve = curves.get(key)
        if curve is None:
            continue
        level = key[0]
        sample = curve.decided_from(age)
        if sample < min_sample_for(level, min_sample):
            continue
        p50_days = curve.conditional_quantile(P50, age)
        p90_days = curve.conditional_quantile(P90, age)
        if p50_days is None or p90_days is None:
            continue
        return Estimate(basis=level, sample_size=sample, p50_days=p50_days, p90_days=p90_days)
    return None


def window_from(
    estimate: Estimate | None, *, days: ClockDays, unit: str, statutory_deadline: dt.date | None
) -> Window:
    """The dates of `estimate` on the application's clock, or the statutory fallback."""
    if estimate is not None:
        return Window(
            basis=estimate.basis,
            sample_size=estimate.sample_size,
            p50_days=estimate.p50_days,
            p90_days=estimate.p90_days,
            p50=max(days.day_reaching(estimate.p50_days, unit), days.today),
            p90=max(days.day_reaching(estimate.p90_days, unit), days.today),
        )
    if statutory_deadline is None:
        return Window(basis=Basis.NO_ESTIMATE)
    # A deadline that passed without a decision: the decision is due any day from today.
    expected = max(statutory_deadline, days.today)
    return Window(basis=Basis.STATUTORY_DEADLINE, p50=expected, p90=expected)


def decision_days(
    *,
    clock_started_at: dt.datetime | None,
    decided_at: dt.datetime | None,
    unit: str,
    zone: ZoneInfo,
    calendar: WorkingCalendar,
    events: Iterable[StatusEvent],
    stops: Iterable[StopPeriod],
) -> tuple[int | None, int | None]:
    """(counting days, calendar days) from the clock start to the decision; (None, None)
    when the clock never started (e.g. withdrawn before acceptance) or nothing was decided.

    Counting days are the clock's elapsed days at the decision (pauses excluded, in the
    authority's unit); calendar days are plain days between the two dates in the authority's zone.
    """
    if clock_started_at is None or decided_at is None:
        return None, None
    clock = compute_clock(
        clock_started_at=clock_started_at,
        decided_at=decided_at,
        period=0,
        unit=unit,
        zone=zone,
        calendar=calendar,
        events=events,
        stops=stops,
        has_deadline=False,
        now=decided_at,
    )
    calendar_days = (_local_date(decided_at, zone) - _local_date(clock_started_at, zone)).days
    return max(clock.elapsed, 0), max(calendar_days, 0)
