"""Which threshold rule applies, and where an application and its shipments stand against it.

Pure functions over plain inputs: the services (licensing.services.delays) load the rows,
call these, and store the results.

Rule specificity. A rule matches when each of its scope fields is blank or equals the
application's (item and material family match any line). The most specific rule wins:
1. the most scope fields set;
2. then the first set field in this precedence: exporter, item, material family,
   destination country, authority, organization;
3. then the older rule (created_at), then the smaller id.

Levels. A level is reached on the day the wait reaches its `after` days (in its own unit,
paused days excluded), or on the statutory deadline day for `at_statutory_deadline`. With
`repeat_every`, the last level is raised again every N days after it (repeat index 1, 2, ...).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from core.calendars import WorkingCalendar
from licensing.clock import ClockDays
from licensing.models.catalogue import PeriodUnit
from licensing.models.levels import DELAY_LEVEL_RANK, DelayLevel

ONE_DAY = dt.timedelta(days=1)
MAX_REPEATS = 500
SCOPE_PRECEDENCE = (
    "exporter_id",
    "item_id",
    "material_family",
    "destination_country",
    "authority_id",
    "organization_id",
)


@dataclass(frozen=True)
class LevelSpec:
    level: str
    after: int | None
    unit: str
    at_statutory_deadline: bool


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the engine needs it; `id` is None for the built-in fallback from settings."""

    id: uuid.UUID | None
    levels: tuple[LevelSpec, ...]
    repeat_every: int | None = None
    repeat_unit: str = PeriodUnit.WORKING_DAYS
    lead_buffer_days: int = 5
    expiry_warning_days: int = 30
    # scope, for matching
    organization_id: uuid.UUID | None = None
    authority_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None
    material_family: str = ""
    destination_country: str = ""
    exporter_id: uuid.UUID | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class ApplicationScope:
    organization_id: uuid.UUID
    authority_id: uuid.UUID
    exporter_id: uuid.UUID
    destination_country: str
    item_ids: frozenset[uuid.UUID]
    material_families: frozenset[str]


def rule_matches(rule: RuleSpec, scope: ApplicationScope) -> bool:
    return (
        (rule.organization_id is None or rule.organization_id == scope.organization_id)
        and (rule.authority_id is None or rule.authority_id == scope.authority_id)
        and (rule.exporter_id is None or rule.exporter_id == scope.exporter_id)
        and (not rule.destination_country or rule.destination_country == scope.destination_country)
        and (rule.item_id is None or rule.item_id in scope.item_ids)
        and (not rule.material_family or rule.material_family in scope.material_families)
    )


def specificity(rule: RuleSpec) -> tuple:
    """Sort key: the most specific rule sorts first (see the module docstring)."""
    set_fields = tuple(bool(getattr(rule, name)) for name in SCOPE_PRECEDENCE)
    created = rule.created_at or dt.datetime.max.replace(tzinfo=dt.UTC)
    return (-sum(set_fields), tuple(not flag for flag in set_fields), created, str(rule.id))


def select_rule(rules: Iterable[RuleSpec], scope: ApplicationScope, fallback: RuleSpec) -> RuleSpec:
    matching = [rule for rule in rules if rule_matches(rule, scope)]
    return min(matching, key=specificity) if matching else fallback


# -- day arithmetic with pauses ---------------------------------------------------------------


@dataclass(frozen=True)
class LevelPoint:
    level: str
    repeat_index: int
    day: dt.date


@dataclass(frozen=True)
class DelayAssessment:
    level: str
    reached: tuple[LevelPoint, ...]
    next_point: LevelPoint | None


def assess_levels(rule: RuleSpec, days: ClockDays, deadline: dt.date | None) -> DelayAssessment:
    """Levels reached by `days.today`, and the next point to check, for a running clock."""
    points: list[LevelPoint] = []
    for spec in rule.levels:
        if spec.at_statutory_deadline:
            if deadline is None:
                continue  # escalated or watch-listed: no deadline, never overdue by the clock
            points.append(LevelPoint(spec.level, 0, deadline))
        elif spec.after is not None:
            points.append(LevelPoint(spec.level, 0, days.day_reaching(spec.after, spec.unit)))
    points.sort(key=lambda point: (point.day, DELAY_LEVEL_RANK[point.level]))
    reached = [point for point in points if point.day <= days.today]
    upcoming = [point for point in points if point.day > days.today]
    if rule.repeat_every and points:
        last = max(points, key=lambda point: DELAY_LEVEL_RANK[point.level])
        if last.day <= days.today:
            for index in range(1, MAX_REPEATS + 1):
                day = days.day_reaching(index * rule.repeat_every, rule.repeat_unit, start=last.day)
                point = LevelPoint(last.level, index, day)
                if day > days.today:
                    upcoming.append(point)
                    break
                reached.append(point)
    level = max(
        (point.level for point in reached),
        key=DELAY_LEVEL_RANK.__getitem__,
        default=DelayLevel.NONE,
    )
    next_point = min(upcoming, key=lambda point: point.day, default=None)
    return DelayAssessment(level=level, reached=tuple(reached), next_point=next_point)


# -- shipments -------------------------------------------------------------------------------


def latest_filing_day(
    ship_date: dt.date, *, buffer_days: int, period: int, unit: str, calendar: WorkingCalendar
) -> dt.date:
    """The last day an application can be accepted and still be decided `buffer_days` before shipping."""
    target = ship_date - dt.timedelta(days=buffer_days)
    if unit != PeriodUnit.WORKING_DAYS:
        return target - dt.timedelta(days=period)
    day = target
    while calendar.working_days_between(day, target) < period:
        day -= ONE_DAY
    return day


def assess_shipment_risk(
    *,
    today: dt.date,
    ship_date: dt.date,
    buffer_days: int,
    expected_decision: dt.date | None,
    filing_deadline: dt.date,
) -> tuple[bool, dt.date | None]:
    """At risk when the decision is expected after ship date minus the buffer.

    `expected_decision` is never before today (the caller takes max(expected, today), where
    expected is the forecast's p90 when it rests on history, else the statutory deadline). Without an expected decision (no application, clock not started, no statutory deadline),
    at risk from the day after `filing_deadline` on. Returns (at_risk, next day to check).
    """
    latest_decision = ship_date - dt.timedelta(days=buffer_days)
    if expected_decision is not None:
        if expected_decision > latest_decision:
            return True, None
        # Still undecided the day after the latest useful decision day: at risk then.
        return False, latest_decision + ONE_DAY
    if today > filing_deadline:
        return True, None
    return False, filing_deadline + ONE_DAY


def assess_license_expiry(
    *, today: dt.date, ship_date: dt.date, valid_until: dt.date, warning_days: int
) -> tuple[str, dt.date | None]:
    """CRITICAL when the license expires before the ship date; WARNING within the window."""
    if valid_until < ship_date:
        return DelayLevel.CRITICAL, None
    warn_from = valid_until - dt.timedelta(days=warning_days)
    if today >= warn_from:
        return DelayLevel.WARNING, None
    return DelayLevel.NONE, warn_from
