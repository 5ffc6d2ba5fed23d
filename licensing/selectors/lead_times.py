"""Lead-time statistics: how long decisions took, grouped, from the stored decision times.

Reads `LicenseApplication.decision_working_days` and `decision_calendar_days` (stored with
the decision) and, for open applications, the clock of the oldest one per group.

- "Working days" are counting days on the authority's clock, as `decision_working_days`
  stores them: working days for CN-MOFCOM; for an authority whose period runs in calendar
  days (US-BIS) its calendar days, pauses excluded. Calendar days are plain days between
  the clock start's date and the decision's (or today's), in the authority's time zone.
- Population: applications whose authority clock started. An application is *decided*
  when its status is approved (or later expired, revoked, exhausted), denied or withdrawn;
  it is *open* while pending. Drafts and withdrawals before the clock started are not in it.
- Decision times are the authority's: the percentiles cover approvals and denials with a
  stored duration. Withdrawals count in the shares, not in the durations (the applicant
  ended those, not the authority). Each figure carries its sample size.
- Percentiles follow PostgreSQL's `percentile_cont` (linear interpolation between the two
  nearest ranks). On PostgreSQL they are computed in SQL, grouped, one query; elsewhere
  (SQLite) from one `values_list` query in Python, with the same formula
  (`percentile_cont`, below). `lead_times_by_group(..., engine=...)` selects either, so
  tests check that both agree on PostgreSQL.
- Groups by item or material family look through the application's lines: an application
  counts once per distinct item (or family) on its lines, so it appears in several groups
  when its lines name several.
- The oldest open application of a group is the one whose clock started first. Its age in
  calendar days is counted from the clock start's date; in working days it is its clock
  (licensing.clock, pauses excluded), computed for that one application per group: a
  constant number of queries whatever the number of open applications.
- Dates (the window, months) are read in UTC.
- Pooling (`pooled=True`, the view passes settings.SHARE_ANONYMOUS_STATS): each group also
  gets the durations of every organization, only as a count and percentiles, and only when
  at least POOL_MIN_SAMPLES durations from at least POOL_MIN_ORGANIZATIONS organizations
  stand behind them: the caller, subtracting its own rows, is then left with the combined
  rows of two or more others, never one organization's. Grouping by exporter is never
  pooled (exporters belong to one organization), and neither is a query filtered by
  exporter.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models
from django.db.models import (
    CharField,
    Count,
    DateField,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import Concat, RowNumber, TruncMonth
from django.utils import timezone
from django_countries import countries

from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    LicenseApplication,
    MaterialFamily,
)
from licensing.models.applications import DECIDED_STATUSES, PENDING_STATUSES
from licensing.selectors.running_clocks import running_clocks

S = ApplicationStatus
# Statuses an approval leads to: each was approved first.
APPROVED_STATUSES = (S.APPROVED, S.EXPIRED, S.REVOKED, S.EXHAUSTED)
# Decisions of the authority: the durations the percentiles read.
AUTHORITY_DECISION_STATUSES = (*APPROVED_STATUSES, S.DENIED)
del S

PERCENTILES = (("median", 0.5), ("p75", 0.75), ("p90", 0.9))
POOL_MIN_SAMPLES = 5
POOL_MIN_ORGANIZATIONS = 3
SHARE_DIGITS = 4
DAYS_DIGITS = 2


class GroupBy(models.TextChoices):
    AUTHORITY = "authority", "licensing authority"
    ITEM = "item", "controlled item on a line"
    MATERIAL_FAMILY = "material_family", "material family of an item on a line"
    DESTINATION_COUNTRY = "destination_country", "destination country"
    EXPORTER = "exporter", "exporter"
    MONTH = "month", "month of the clock start (UTC)"


class WindowBy(models.TextChoices):
    DECISION = "decision", "decided in the window"
    CLOCK_START = "clock_start", "clock started in the window"


class Engine(models.TextChoices):
    SQL = "sql", "percentile_cont in SQL (PostgreSQL)"
    PYTHON = "python", "one values_list query, percentiles in Python"


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    """Percentiles of one kind of duration (working or calendar days) and their sample size."""

    sample_size: int = 0
    median: float | None = None
    p75: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class DecidedFigures:
    count: int = 0
    approved: int = 0
    denied: int = 0
    withdrawn: int = 0
    working_days: Durations = field(default_factory=Durations)
    calendar_days: Durations = field(default_factory=Durations)
    # Organizations behind the durations: counted for the pool only, never shown.
    organizations: int = field(default=0, compare=False)

    def share(self, outcome: int) -> float | None:
        return round(outcome / self.count, SHARE_DIGITS) if self.count else None

    @property
    def approved_share(self) -> float | None:
        return self.share(self.approved)

    @property
    def denied_share(self) -> float | None:
        return self.share(self.denied)

    @property
    def withdrawn_share(self) -> float | None:
        return self.share(self.withdrawn)


@dataclass(frozen=True)
class OldestOpen:
    application_id: uuid.UUID
    clock_started_at: dt.datetime
    age_calendar_days: int
    age_working_days: int


@dataclass(frozen=True)
class OpenFigures:
    count: int = 0
    oldest: OldestOpen | None = None


@dataclass(frozen=True)
class PooledFigures:
    decided_count: int
    working_days: Durations
    calendar_days: Durations


@dataclass(frozen=True)
class LeadTimeGroup:
    key: str
    label: str
    decided: DecidedFigures
    open: OpenFigures
    pooled: PooledFigures | None = None


@dataclass(frozen=True)
class ApplicationFilters:
    """The application filters of the statistics; empty values filter nothing."""

    authority: str = ""
    exporter: uuid.UUID | None = None
    destination_country: str = ""
    license_type: str = ""
    statuses: tuple[str, ...] = ()
    item: str = ""
    material_family: str = ""


@dataclass(frozen=True)
class LeadTimeReport:
    group_by: str
    window: str
    date_from: dt.date | None
    date_to: dt.date | None
    pooling: bool
    groups: list[LeadTimeGroup]


@dataclass(frozen=True)
class ChartRow:
    """One bar of the dashboard's lead-time chart: an authority and a material family."""

    authority: str
    material_family: str
    label: str
    median: float | None
    p90: float | None
    n: int


# --- percentiles ------------------------------------------------------------------------------


def percentile_cont(ordered: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont over already sorted values: linear interpolation.

    The same arithmetic as PostgreSQL (float8_lerp): lower + (upper - lower) * proportion.
    """
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    first = math.floor(position)
    second = math.ceil(position)
    lower, upper = float(ordered[first]), float(ordered[second])
    return lower + (upper - lower) * (position - first)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, DAYS_DIGITS)


def durations_of(values: Iterable[int]) -> Durations:
    ordered = sorted(values)
    figures = {name: _rounded(percentile_cont(ordered, q)) for name, q in PERCENTILES}
    return Durations(sample_size=len(ordered), **figures)


class PercentileCont(models.Aggregate):
    """`percentile_cont(<fraction>) WITHIN GROUP (ORDER BY <expression>)`, PostgreSQL only.

    PostgreSQL shares one sort between the calls over the same expression and filter.
    """

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        # A float literal of ours, never user input: formatted into the SQL safely.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


# --- what is grouped, and how -----------------------------------------------------------------


@dataclass(frozen=True)
class _Grouping:
    """Where a group's key and label come from, relative to the rows being grouped.

    `through_lines`: the rows are application lines, one per distinct (application, key).
    """

    through_lines: bool
    key: Any  # a path or an expression
    label: str | None  # a path; None when the label is made from the key in Python
    dedupe: str = ""  # through lines: the line field whose repeats are dropped

    @property
    def prefix(self) -> str:
        return "application__" if self.through_lines else ""


# The dashboard chart's grouping (not offered by the API): authority and material family.
_CHART_GROUPING = "authority_material_family"


def _grouping(group_by: str) -> _Grouping:
    if group_by == GroupBy.AUTHORITY:
        return _Grouping(False, "authority__code", "authority__name")
    if group_by == GroupBy.EXPORTER:
        return _Grouping(False, "exporter_id", "exporter__name")
    if group_by == GroupBy.DESTINATION_COUNTRY:
        return _Grouping(False, "destination_country", None)
    if group_by == GroupBy.MONTH:
        month = TruncMonth("clock_started_at", tzinfo=dt.UTC, output_field=DateField())
        return _Grouping(False, month, None)
    if group_by == GroupBy.ITEM:
        return _Grouping(True, "item__control_code", "item__name", dedupe="item_id")
    if group_by == GroupBy.MATERIAL_FAMILY:
        return _Grouping(True, "item__material_family", None, dedupe="item__material_family")
    if group_by == _CHART_GROUPING:
        key = Concat(
            "application__authority__code",
            Value("|"),
            "item__material_family",
            output_field=CharField(),
        )
        return _Grouping(True, key, None, dedupe="item__material_family")
    raise ValueError(f"Unknown group_by {group_by!r}")


def _key_text(group_by: str, key: Any) -> str:
    if group_by == GroupBy.MONTH:
        return key.strftime("%Y-%m")
    return str(key)


def _label(group_by: str, key: str, label: str | None) -> str:
    if label is not None:
        return label
    if group_by == GroupBy.DESTINATION_COUNTRY:
        return str(countries.name(key)) or key
    if group_by == GroupBy.MATERIAL_FAMILY:
        return MaterialFamily.label_of(key)
    if group_by == GroupBy.MONTH:
        return dt.date.fromisoformat(f"{key}-01").strftime("%B %Y")
    if group_by == _CHART_GROUPING:
        authority, _, family = key.partition("|")
        return f"{authority} · {MaterialFamily.label_of(family)}"
    return key


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _window_condition(path: str, date_from: dt.date | None, date_to: dt.date | None) -> Q:
    """`path` (a time) on or after the start of `date_from` and before the end of `date_to`."""
    condition = Q()
    if date_from is not None:
        condition &= Q(**{f"{path}__gte": _day_start(date_from)})
    if date_to is not None and date_to < dt.date.max:
        condition &= Q(**{f"{path}__lt": _day_start(date_to + dt.timedelta(days=1))})
    return condition


def _filter_condition(filters: ApplicationFilters, prefix: str) -> Q:
    condition = Q()
    if filters.authority:
        condition &= Q(**{f"{prefix}authority__code": filters.authority})
    if filters.exporter is not None:
        condition &= Q(**{f"{prefix}exporter_id": filters.exporter})
    if filters.destination_country:
        condition &= Q(**{f"{prefix}destination_country": filters.destination_country})
    if filters.license_type:
        condition &= Q(**{f"{prefix}license_type": filters.license_type})
    if filters.statuses:
        condition &= Q(**{f"{prefix}status__in": filters.statuses})
    application = OuterRef("application_id") if prefix else OuterRef("pk")
    if filters.item:
        lines = ApplicationLine.objects.filter(
            application=application, item__control_code=filters.item
        )
        condition &= Q(Exists(lines))
    if filters.material_family:
        lines = ApplicationLine.objects.filter(
            application=application, item__material_family=filters.material_family
        )
        condition &= Q(Exists(lines))
    return condition


@dataclass(frozen=True)
class _Scope:
    """Which applications a query reads: whose, filtered how, in which window."""

    organization_ids: tuple[Any, ...] | None  # None: every organization
    filters: ApplicationFilters
    window: str
    date_from: dt.date | None
    date_to: dt.date | None


def _rows(grouping: _Grouping, scope: _Scope, *, decided: bool) -> QuerySet:
    """The decided (or open) rows of `scope`, annotated with `group_key` and `group_label`."""
    prefix = grouping.prefix
    condition = Q(**{f"{prefix}clock_started_at__isnull": False})
    statuses = DECIDED_STATUSES if decided else PENDING_STATUSES
    condition &= Q(**{f"{prefix}status__in": statuses})
    if scope.organization_ids is not None:
        condition &= Q(**{f"{prefix}organization_id__in": scope.organization_ids})
    condition &= _filter_condition(scope.filters, prefix)
    if scope.window == WindowBy.CLOCK_START:
        condition &= _window_condition(f"{prefix}clock_started_at", scope.date_from, scope.date_to)
    elif decided:  # open applications have no decision: the window does not bound them
        condition &= _window_condition(f"{prefix}decided_at", scope.date_from, scope.date_to)

    if grouping.through_lines:
        # One row per distinct (application, key): drop a line when an earlier line of the
        # same application has the same key.
        earlier = ApplicationLine.objects.filter(
            application_id=OuterRef("application_id"),
            id__lt=OuterRef("id"),
            **{grouping.dedupe: OuterRef(grouping.dedupe)},
        )
        rows = ApplicationLine.objects.filter(condition).filter(~Exists(earlier))
    else:
        rows = LicenseApplication.objects.filter(condition)
    key = F(grouping.key) if isinstance(grouping.key, str) else grouping.key
    label = F(grouping.label) if grouping.label else Value(None, output_field=CharField())
    return rows.annotate(group_key=key, group_label=label).order_by()


# --- decided figures: SQL and Python ----------------------------------------------------------


def _decided_sql(
    rows: QuerySet, prefix: str, *, count_organizations: bool
) -> dict[Any, tuple[str | None, DecidedFigures]]:
    status = f"{prefix}status"
    decision = Q(**{f"{status}__in": AUTHORITY_DECISION_STATUSES})
    aggregates: dict[str, Any] = {
        "decided": Count("pk"),
        "approved": Count("pk", filter=Q(**{f"{status}__in": APPROVED_STATUSES})),
        "denied": Count("pk", filter=Q(**{status: ApplicationStatus.DENIED})),
        "withdrawn": Count("pk", filter=Q(**{status: ApplicationStatus.WITHDRAWN})),
    }
    if count_organizations:  # a COUNT(DISTINCT) sorts each group once more: pool only
        aggregates["organizations"] = Count(
            f"{prefix}organization_id", distinct=True, filter=decision
        )
    for unit in ("working", "calendar"):
        column = f"{prefix}decision_{unit}_days"
        aggregates[f"{unit}_n"] = Count(column, filter=decision)
        for name, fraction in PERCENTILES:
            aggregates[f"{unit}_{name}"] = PercentileCont(column, fraction, filter=decision)
    result = {}
    for row in rows.values("group_key", "group_label").annotate(**aggregates):
        figures = DecidedFigures(
            count=row["decided"],
            approved=row["approved"],
            denied=row["denied"],
            withdrawn=row["withdrawn"],
            working_days=_durations_from_row(row, "working"),
            calendar_days=_durations_from_row(row, "calendar"),
            organizations=row.get("organizations", 0),
        )
        result[row["group_key"]] = (row["group_label"], figures)
    return result


def _durations_from_row(row: dict[str, Any], unit: str) -> Durations:
    return Durations(
        sample_size=row[f"{unit}_n"],
        **{name: _rounded(row[f"{unit}_{name}"]) for name, _ in PERCENTILES},
    )


def _decided_python(rows: QuerySet, prefix: str) -> dict[Any, tuple[str | None, DecidedFigures]]:
    columns = rows.values_list(
        "group_key",
        "group_label",
        f"{prefix}status",
        f"{prefix}decision_working_days",
        f"{prefix}decision_calendar_days",
        f"{prefix}organization_id",
    )
    labels: dict[Any, str | None] = {}
    counts: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    working: dict[Any, list[int]] = defaultdict(list)
    calendar: dict[Any, list[int]] = defaultdict(list)
    organizations: dict[Any, set[Any]] = defaultdict(set)
    for key, label, status, working_days, calendar_days, organization_id in columns.iterator(
        chunk_size=10_000
    ):
        labels[key] = label
        tally = counts[key]
        tally["decided"] += 1
        if status in APPROVED_STATUSES:
            tally["approved"] += 1
        elif status == ApplicationStatus.DENIED:
            tally["denied"] += 1
        elif status == ApplicationStatus.WITHDRAWN:
            tally["withdrawn"] += 1
        if status in AUTHORITY_DECISION_STATUSES:
            organizations[key].add(organization_id)
            if working_days is not None:
                working[key].append(working_days)
            if calendar_days is not None:
                calendar[key].append(calendar_days)
    return {
        key: (
            labels[key],
            DecidedFigures(
                count=tally["decided"],
                approved=tally["approved"],
                denied=tally["denied"],
                withdrawn=tally["withdrawn"],
                working_days=durations_of(working[key]),
                calendar_days=durations_of(calendar[key]),
                organizations=len(organizations[key]),
            ),
        )
        for key, tally in counts.items()
    }


def default_engine() -> str:
    return Engine.SQL if connection.vendor == "postgresql" else Engine.PYTHON


def _decided(
    grouping: _Grouping, scope: _Scope, engine: str, *, count_organizations: bool = False
) -> dict[Any, tuple[str | None, DecidedFigures]]:
    rows = _rows(grouping, scope, decided=True)
    if engine == Engine.SQL:
        return _decided_sql(rows, grouping.prefix, count_organizations=count_organizations)
    return _decided_python(rows, grouping.prefix)


# --- open figures -----------------------------------------------------------------------------


def _open(
    grouping: _Grouping, scope: _Scope, now: dt.datetime
) -> dict[Any, tuple[str | None, OpenFigures]]:
    """Per group: how many are open, and the oldest (first clock start) with its ages."""
    prefix = grouping.prefix
    started = F(f"{prefix}clock_started_at")
    rows = (
        _rows(grouping, scope, decided=False)
        .annotate(
            open_count=Window(Count("pk"), partition_by=[F("group_key")]),
            open_rank=Window(
                RowNumber(),
                partition_by=[F("group_key")],
                order_by=[started.asc(), F(f"{prefix}id").asc()],
            ),
        )
        .filter(open_rank=1)
        .values("group_key", "group_label", "open_count", oldest_id=F(f"{prefix}id"))
    )
    oldest_rows = list(rows)
    clocks = running_clocks(
        LicenseApplication.objects.filter(pk__in={row["oldest_id"] for row in oldest_rows}),
        now=now,
    )
    ages = {
        pk: OldestOpen(
            application_id=pk,
            clock_started_at=clock.clock_started_at,
            age_calendar_days=clock.age_calendar_days(now),
            age_working_days=clock.elapsed,
        )
        for pk, clock in clocks.items()
    }
    return {
        row["group_key"]: (
            row["group_label"],
            OpenFigures(count=row["open_count"], oldest=ages[row["oldest_id"]]),
        )
        for row in oldest_rows
    }


# --- the selectors ----------------------------------------------------------------------------


def _pooled(figures: DecidedFigures) -> PooledFigures | None:
    if (
        figures.working_days.sample_size < POOL_MIN_SAMPLES
        or figures.organizations < POOL_MIN_ORGANIZATIONS
    ):
        return None
    return PooledFigures(
        decided_count=figures.count,
        working_days=figures.working_days,
        calendar_days=figures.calendar_days,
    )


def pooling_applies(*, group_by: str, filters: ApplicationFilters) -> bool:
    """Whether pooled figures may be shown at all: never per exporter, nor filtered by one."""
    return group_by != GroupBy.EXPORTER and filters.exporter is None


def lead_times_by_group(
    *,
    organization_id: Any,
    group_by: str = GroupBy.AUTHORITY,
    window: str = WindowBy.DECISION,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    filters: ApplicationFilters | None = None,
    pooled: bool = False,
    now: dt.datetime | None = None,
    engine: str | None = None,
) -> LeadTimeReport:
    """Decided counts, outcome shares, decision-time percentiles and open ages, per group.

    Scoped to `organization_id`; `pooled` adds every organization's durations where
    `pooling_applies` and the group is large enough (see the module docstring). A constant
    number of queries: decided (1), open (1), the oldest open applications' clocks (3 plus
    one per calendar country), and with pooling one more.
    """
    filters = filters or ApplicationFilters()
    engine = engine or default_engine()
    now = now or timezone.now()
    grouping = _grouping(group_by)
    scope = _Scope((organization_id,), filters, window, date_from, date_to)
    decided = _decided(grouping, scope, engine)
    open_ = _open(grouping, scope, now)
    pooling = pooled and pooling_applies(group_by=group_by, filters=filters)
    pool: dict[Any, tuple[str | None, DecidedFigures]] = {}
    if pooling:
        everyone = _Scope(None, filters, window, date_from, date_to)
        pool = _decided(grouping, everyone, engine, count_organizations=True)

    groups = []
    for key in set(decided) | set(open_):
        label = (decided.get(key) or open_[key])[0]
        key_text = _key_text(group_by, key)
        pooled_figures = pool.get(key)
        groups.append(
            LeadTimeGroup(
                key=key_text,
                label=_label(group_by, key_text, label),
                decided=decided[key][1] if key in decided else DecidedFigures(),
                open=open_[key][1] if key in open_ else OpenFigures(),
                pooled=_pooled(pooled_figures[1]) if pooled_figures else None,
            )
        )
    groups.sort(key=lambda group: group.key)
    return LeadTimeReport(
        group_by=group_by,
        window=window,
        date_from=date_from,
        date_to=date_to,
        pooling=pooling,
        groups=groups,
    )


def _months_ago(day: dt.date, months: int) -> dt.date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for last_day in (day.day, 30, 29, 28):  # the same day, or the month's last
        try:
            return dt.date(year, month, min(day.day, last_day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def lead_time_chart_rows(
    *,
    organization_ids: Sequence[Any] | None = None,
    months: int = 12,
    now: dt.datetime | None = None,
    engine: str | None = None,
) -> list[ChartRow]:
    """Median and p90 decision time in working days, per authority and material family.

    For the admin dashboard's chart: decisions of the last `months` months (up to today,
    UTC), of `organization_ids` (None: every organization). An application counts once per
    distinct material family on its lines. Sorted by authority, then family.
    """
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    scope = _Scope(
        tuple(organization_ids) if organization_ids is not None else None,
        ApplicationFilters(),
        WindowBy.DECISION,
        _months_ago(today, months),
        today,
    )
    decided = _decided(_grouping(_CHART_GROUPING), scope, engine or default_engine())
    rows = []
    for key, (_, figures) in decided.items():
        authority, _, family = key.partition("|")
        durations = figures.working_days
        rows.append(
            ChartRow(
                authority=authority,
                material_family=family,
                label=_label(_CHART_GROUPING, key, None),
                median=durations.median,
                p90=durations.p90,
                n=durations.sample_size,
            )
        )
    rows.sort(key=lambda row: (row.authority, row.material_family))
    return rows
