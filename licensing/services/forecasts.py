"""The expected-decision forecast's writes: refit the strata's survival curves, store windows.

- `forecast_refresh_all` (nightly, Celery beat): one aggregate query over the decided
  applications, the clocks of the open ones (censored at their age), a refit of every
  stratum's curve (ForecastCurve, replaced whole) and the window of every open application,
  written in batches.
- `forecast_recompute_open`: the same windows from the stored curves, without refitting
  (measured by tests/benchmarks/bench_forecast.py; nothing else calls it).
- `forecast_after_application_change`: in a service's transaction, after a status change or
  a clock stop: stores the decision times when the application was just decided, and
  recomputes its window from the stored curves (a constant number of queries).

Surprises: the windows are derived data, like the delay fields: writing them bumps neither
`version` nor `updated_at`. A window is written only if the application's `version` is still
the one read, so a nightly refresh never overwrites what a concurrent decision just stored.
When an application's p90 or basis moves, its waiting shipments are marked due: their
at-risk check reads p90 (licensing.services.delays).
With SHARE_ANONYMOUS_STATS on, a pooled stratum is fitted (and stored) only when decisions of
at least POOL_MIN_ORGANIZATIONS organizations stand behind it, as for the lead-time
statistics; a narrower one is left out and the next level answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.fields import BooleanField, UUIDField
from django.utils import timezone

from core.calendars import WorkingCalendar, working_calendar
from licensing.clock import (
    ClockDays,
    StatusEvent,
    StopPeriod,
    _local_date,
    _paused_dates,
    compute_clock,
)
from licensing.forecast import (
    P50,
    P90,
    Basis,
    ForecastSubject,
    StratumKey,
    SurvivalCurve,
    Window,
    decision_days,
    estimate_days,
    fit_strata,
    stratum_keys,
    window_from,
)
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    ControlledItem,
    ForecastCurve,
    LicenseApplication,
    LicensingAuthority,
    Shipment,
    StatusChange,
)
from licensing.selectors.lead_times import POOL_MIN_ORGANIZATIONS

# The delay engine's sets: applications whose clock can run get a window, and the shipments
# whose at-risk check reads it are marked due when it moves.
from licensing.services.delays import CHECKED_APPLICATION_STATUSES as FORECAST_STATUSES
from licensing.services.delays import WAITING_SHIPMENT_STATUSES

logger = logging.getLogger(__name__)

# Rows per write transaction: a racing decision waits for one batch at most.
WRITE_BATCH = 10_000
WINDOW_FIELDS = (
    "expected_decision_p50",
    "expected_decision_p90",
    "expected_decision_basis",
    "expected_decision_sample_size",
    "expected_decision_computed_at",
)


def forecast_min_sample() -> dict[str, int]:
    """Per level, the decisions needed (FORECAST_MIN_SAMPLE, FORECAST_MIN_SAMPLE_BY_LEVEL)."""
    by_level = dict(getattr(settings, "FORECAST_MIN_SAMPLE_BY_LEVEL", {}) or {})
    return {"default": int(getattr(settings, "FORECAST_MIN_SAMPLE", 20)), **by_level}


def forecast_pooled() -> bool:
    """Whether strata pool every organization's durations (SHARE_ANONYMOUS_STATS)."""
    return bool(getattr(settings, "SHARE_ANONYMOUS_STATS", False))


def first_line_item() -> Subquery:
    """The item of an application's first line (lowest position, then lowest id)."""
    return Subquery(
        ApplicationLine.objects.filter(application_id=OuterRef("pk"))
        .order_by("position", "id")
        .values("item_id")[:1],
        output_field=UUIDField(),
    )


# -- reading -----------------------------------------------------------------------------------


@dataclass
class OpenClock:
    """One open application as the forecast needs it: its strata, its clock now, what is stored."""

    id: object
    version: int
    organization_id: str
    subject: ForecastSubject
    unit: str
    age: int
    days: ClockDays
    statutory_deadline: dt.date | None
    stored: tuple
    # What the clock is a function of: (authority, start day, paused days, has a deadline).
    clock_key: tuple = ()


def _families(items: QuerySet | None = None) -> dict[str, str]:
    """Material family by item id: of the items `items` selects (ids), or of every item."""
    catalogue = ControlledItem.objects.all()
    if items is not None:
        catalogue = catalogue.filter(pk__in=items)
    return {
        str(pk): family for pk, family in catalogue.order_by().values_list("pk", "material_family")
    }


def _id(value) -> str | None:
    """Ids in stratum keys are strings: a str caches its hash, a UUID computes it each time,
    and a refresh looks keys up hundreds of thousands of times."""
    return None if value is None else str(value)


def _subject(
    organization_id, authority_id, item_id, destination: str, families: Mapping, pooled: bool
) -> ForecastSubject:
    item_id = _id(item_id)
    return ForecastSubject(
        organization_id=None if pooled else _id(organization_id),
        authority_id=_id(authority_id),
        item_id=item_id,
        material_family=families.get(item_id, "") if item_id else "",
        destination_country=str(destination or ""),
    )


def decided_history(
    *, before: dt.datetime | None = None, authority_ids: Iterable | None = None
) -> list[tuple[ForecastSubject, int, bool, int, str]]:
    """Decided applications, aggregated in SQL: (subject, counting days, decided?, how many,
    organization).

    Approvals and denials (and what followed an approval) are decisions; withdrawals are
    censored at their stored duration. With `before`, only decisions made before it.
    """
    queryset = LicenseApplication.objects.filter(decision_working_days__isnull=False)
    if before is not None:
        queryset = queryset.filter(decided_at__lt=before)
    if authority_ids is not None:
        queryset = queryset.filter(authority_id__in=list(authority_ids))
    rows = (
        queryset.annotate(
            first_item=first_line_item(),
            is_decision=Case(
                When(status=ApplicationStatus.WITHDRAWN, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            ),
        )
        .order_by()
        .values_list(
            "organization_id",
            "authority_id",
            "first_item",
            "destination_country",
            "decision_working_days",
            "is_decision",
        )
        .annotate(n=Count("id"))
    )
    families, pooled = _families(), forecast_pooled()
    return [
        (_subject(org, authority, item, dest, families, pooled), days, bool(decided), n, _id(org))
        for org, authority, item, dest, days, decided, n in rows
    ]


def open_clocks(
    queryset: QuerySet[LicenseApplication],
    *,
    now: dt.datetime,
    as_of: dt.datetime | None = None,
    whole_catalogue: bool = False,
) -> list[OpenClock]:
    """The clocks of the applications in `queryset` at `now`, read with five set-based queries.

    Only the authorities and items of `queryset`'s applications are read (one application's
    change reads its own item, whatever the catalogue's size), or with `whole_catalogue`
    (the nightly paths, whose `queryset` is every open application) all of them: one plain
    read instead of a semi-join over every open application's lines. `as_of` (the backtest)
    reads the past: status changes after it, and clock stops recorded after it or starting
    later, are ignored, and the application counts as undecided then.
    """
    ids = queryset.values("pk")
    authorities = LicensingAuthority.objects.all()
    items = None
    if not whole_catalogue:
        authorities = authorities.filter(pk__in=queryset.values("authority_id"))
        items = ApplicationLine.objects.filter(application_id__in=ids).values("item_id")
    authorities = {authority.pk: authority for authority in authorities}
    calendars: dict[str, WorkingCalendar] = {}
    families, pooled = _families(items), forecast_pooled()
    rows = list(
        queryset.annotate(first_item=first_line_item())
        .order_by()
        .values_list(
            "pk",
            "version",
            "organization_id",
            "authority_id",
            "first_item",
            "destination_country",
            "clock_started_at",
            "is_escalated",
            "involves_watch_listed_party",
            *WINDOW_FIELDS[:4],
        )
    )
    events: dict = {}
    # Only an information request pauses the clock (licensing.clock): the history of an
    # application that never had one cannot change its clock, so it is not read.
    requests = StatusChange.objects.filter(
        application_id=OuterRef("application_id"), to_status=ApplicationStatus.INFO_REQUESTED
    )
    changes = StatusChange.objects.filter(application_id__in=ids)
    if as_of is not None:
        changes = changes.filter(occurred_at__lte=as_of)
        requests = requests.filter(occurred_at__lte=as_of)
    changes = changes.filter(Exists(requests))
    for application_id, to_status, occurred_at in changes.values_list(
        "application_id", "to_status", "occurred_at"
    ).order_by():
        events.setdefault(application_id, []).append(StatusEvent(to_status, occurred_at))
    stops: dict = {}
    recorded = ClockStop.objects.filter(application_id__in=ids)
    if as_of is not None:
        recorded = recorded.filter(created_at__lte=as_of, started_on__lte=as_of.date())
    for application_id, started_on, ended_on in recorded.values_list(
        "application_id", "started_on", "ended_on"
    ).order_by():
        stops.setdefault(application_id, []).append(StopPeriod(started_on, ended_on))

    clocks = []
    zones = {pk: ZoneInfo(authority.time_zone) for pk, authority in authorities.items()}
    # Applications whose clocks started on the same day and paused on the same days share
    # their clock: computed once (the clock is a function of those, see licensing.clock).
    shared: dict[tuple, tuple[int, ClockDays, dt.date | None]] = {}
    for pk, version, org, authority_id, item, dest, started, escalated, watched, *stored in rows:
        if started is None:
            continue
        authority, zone = authorities[authority_id], zones[authority_id]
        application_events = events.get(pk, ())
        application_stops = stops.get(pk, ())
        start, today = _local_date(started, zone), _local_date(now, zone)
        paused = frozenset(
            _paused_dates(application_events, application_stops, start=start, end=today, zone=zone)
        )
        has_deadline = not (escalated or watched)
        clock_key = (authority_id, start, paused, has_deadline)
        if clock_key not in shared:
            country = authority.calendar_country
            if country not in calendars:
                calendars[country] = working_calendar(country)
            clock = compute_clock(
                clock_started_at=started,
                decided_at=None,
                period=authority.review_period,
                unit=authority.review_period_unit,
                zone=zone,
                calendar=calendars[country],
                events=application_events,
                stops=application_stops,
                has_deadline=has_deadline,
                now=now,
            )
            days = ClockDays(start=start, today=today, calendar=calendars[country], paused=paused)
            shared[clock_key] = (max(clock.elapsed, 0), days, clock.statutory_deadline)
        age, days, deadline = shared[clock_key]
        clocks.append(
            OpenClock(
                id=pk,
                version=version,
                organization_id=_id(org),
                subject=_subject(org, authority_id, item, dest, families, pooled),
                unit=authority.review_period_unit,
                age=age,
                days=days,
                statutory_deadline=deadline,
                stored=tuple(stored),
                clock_key=clock_key,
            )
        )
    return clocks


def open_queryset() -> QuerySet[LicenseApplication]:
    return LicenseApplication.objects.filter(
        status__in=FORECAST_STATUSES, clock_started_at__isnull=False
    )


# -- fitting -----------------------------------------------------------------------------------


def fit_curves(
    history: Iterable[tuple[ForecastSubject, int, bool, int, str]], clocks: Iterable[OpenClock]
) -> dict[StratumKey, SurvivalCurve]:
    """Curves of every stratum: the decided history plus the open applications, censored.

    Pooled (SHARE_ANONYMOUS_STATS): only strata with decisions of at least
    POOL_MIN_ORGANIZATIONS organizations, so no window rests on one other organization's.
    """
    censored = ((clock.subject, clock.age, False, 1, clock.organization_id) for clock in clocks)
    min_organizations = POOL_MIN_ORGANIZATIONS if forecast_pooled() else None
    return fit_strata([*history, *censored], min_organizations=min_organizations)


def _store_curves(curves: Mapping[StratumKey, SurvivalCurve], *, now: dt.datetime) -> None:
    rows = []
    for (
        level,
        organization_id,
        authority_id,
        item_id,
        family,
        destination,
    ), curve in curves.items():
        rows.append(
            ForecastCurve(
                organization_id=organization_id,
                authority_id=authority_id,
                level=level,
                item_id=item_id,
                material_family=family,
                destination_country=destination,
                counts=curve.rows(),
                decided=curve.total_decided,
                censored=curve.total - curve.total_decided,
                fitted_at=now,
            )
        )
    ForecastCurve.objects.all().delete()
    ForecastCurve.objects.bulk_create(rows, batch_size=500)


def stored_curves(
    subjects: Iterable[ForecastSubject] | None = None,
) -> dict[StratumKey, SurvivalCurve]:
    """The stored curves (of `subjects`' strata only, when given)."""
    queryset = ForecastCurve.objects.all()
    if subjects is not None:
        condition = Q(pk__in=[])
        for subject in subjects:
            for level, organization_id, authority_id, item_id, family, destination in stratum_keys(
                subject
            ):
                condition |= Q(
                    level=level,
                    organization_id=organization_id,
                    authority_id=authority_id,
                    item_id=item_id,
                    material_family=family,
                    destination_country=destination,
                )
        queryset = queryset.filter(condition)
    return {
        (
            row.level,
            _id(row.organization_id),
            _id(row.authority_id),
            _id(row.item_id),
            row.material_family,
            str(row.destination_country or ""),
        ): SurvivalCurve.from_rows(row.counts)
        for row in queryset
    }


# -- windows -----------------------------------------------------------------------------------


def windows_for(
    clocks: Sequence[OpenClock], curves: Mapping[StratumKey, SurvivalCurve]
) -> list[Window]:
    """The window of each clock, memoized on (clock, strata): many applications share both."""
    min_sample = forecast_min_sample()
    memo: dict[tuple, Window] = {}
    windows = []
    for clock in clocks:
        keys = tuple(stratum_keys(clock.subject))
        memo_key = (clock.clock_key, keys)
        if memo_key not in memo:
            estimate = estimate_days(curves=curves, keys=keys, age=clock.age, min_sample=min_sample)
            memo[memo_key] = window_from(
                estimate,
                days=clock.days,
                unit=clock.unit,
                statutory_deadline=clock.statutory_deadline,
            )
        windows.append(memo[memo_key])
    return windows


@dataclass
class ForecastReport:
    curves: int = 0
    applications: int = 0
    written: int = 0
    statutory_fallbacks: int = 0
    moved: list = field(default_factory=list)


def _store_windows(
    clocks: Sequence[OpenClock], windows: Sequence[Window], *, now: dt.datetime
) -> ForecastReport:
    """Write each window whose application still has the version read; mark shipments due."""
    report = ForecastReport(applications=len(clocks))
    rows = []
    for clock, window in zip(clocks, windows, strict=True):
        if window.basis == Basis.STATUTORY_DEADLINE:
            report.statutory_fallbacks += 1
        new = (window.p50, window.p90, window.basis, window.sample_size)
        if new[1:3] != clock.stored[1:3]:
            report.moved.append(clock.id)
        rows.append((clock.id, clock.version, *new))
    for start in range(0, len(rows), WRITE_BATCH):
        report.written += _update_batch(rows[start : start + WRITE_BATCH], now=now)
    _mark_shipments_due(report.moved, now=now)
    return report


def _update_batch(rows: Sequence[tuple], *, now: dt.datetime) -> int:
    """Write (id, version, p50, p90, basis, sample size) rows whose version still matches.

    PostgreSQL: COPY into a temporary table, then one UPDATE ... FROM it, in one transaction
    (a bulk_update would send a CASE WHEN of every row per field). Elsewhere (SQLite, the
    embedded default with a handful of rows), and for a single row: one UPDATE per row.
    """
    if not rows:
        return 0
    table = LicenseApplication._meta.db_table
    statuses = list(FORECAST_STATUSES)
    if connection.vendor == "postgresql" and len(rows) > 1:
        placeholders = ", ".join(["%s"] * len(statuses))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE forecast_window (id uuid, version integer, p50 date, "
                "p90 date, basis varchar(64), sample_size integer)"
            )
            with cursor.copy("COPY forecast_window FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"UPDATE {table} AS a SET expected_decision_p50 = v.p50, "  # noqa: S608 (no user input)
                "expected_decision_p90 = v.p90, expected_decision_basis = v.basis, "
                "expected_decision_sample_size = v.sample_size, expected_decision_computed_at = %s "
                "FROM forecast_window AS v "
                f"WHERE a.id = v.id AND a.version = v.version AND a.status IN ({placeholders})",
                [now, *statuses],
            )
            written = cursor.rowcount
            # Dropped now, not on commit: the caller's transaction may write another batch.
            cursor.execute("DROP TABLE forecast_window")
            return written
    written = 0
    for pk, version, p50, p90, basis, sample_size in rows:
        written += LicenseApplication.objects.filter(
            pk=pk, version=version, status__in=statuses
        ).update(
            expected_decision_p50=p50,
            expected_decision_p90=p90,
            expected_decision_basis=basis,
            expected_decision_sample_size=sample_size,
            expected_decision_computed_at=now,
        )
    return written


def _mark_shipments_due(application_ids: Sequence, *, now: dt.datetime) -> None:
    for start in range(0, len(application_ids), 5000):
        Shipment.objects.filter(
            license_application_id__in=application_ids[start : start + 5000],
            status__in=WAITING_SHIPMENT_STATUSES,
        ).update(next_check_at=now)


def _clear_windows(applications: QuerySet[LicenseApplication]) -> int:
    """Remove the window of `applications` (those that have one)."""
    return applications.exclude(expected_decision_basis="").update(
        expected_decision_p50=None,
        expected_decision_p90=None,
        expected_decision_basis="",
        expected_decision_sample_size=0,
        expected_decision_computed_at=None,
    )


def _clear_stale_windows() -> int:
    """Applications that are no longer open (or whose clock has not started) keep no window."""
    return _clear_windows(
        LicenseApplication.objects.exclude(
            status__in=FORECAST_STATUSES, clock_started_at__isnull=False
        )
    )


def forecast_refresh_all(*, now: dt.datetime | None = None) -> ForecastReport:
    """The nightly refit: every stratum's curve from the whole history, then every open window.

    Set-based reads (one aggregate of the decided applications; the open ones, their status
    changes and clock stops in three queries; the authorities and items); windows written in
    batches. Safe to run twice.
    """
    now = now or timezone.now()
    clocks = open_clocks(open_queryset(), now=now, whole_catalogue=True)
    curves = fit_curves(decided_history(), clocks)
    with transaction.atomic():
        _store_curves(curves, now=now)
    report = _refresh_windows(clocks, curves, now=now)
    report.curves = len(curves)
    logger.info(
        "forecast refresh: %s curves, %s open applications (%s written, %s on the statutory "
        "deadline), %s windows moved",
        report.curves,
        report.applications,
        report.written,
        report.statutory_fallbacks,
        len(report.moved),
    )
    return report


def forecast_recompute_open(*, now: dt.datetime | None = None) -> ForecastReport:
    """Every open window again, from the stored curves (no refit).

    Kept for tests/benchmarks/bench_forecast.py, which measures it (a day's recompute
    without a refit); the service itself does not call it.
    """
    now = now or timezone.now()
    clocks = open_clocks(open_queryset(), now=now, whole_catalogue=True)
    return _refresh_windows(clocks, stored_curves(), now=now)


def _refresh_windows(
    clocks: Sequence[OpenClock], curves: Mapping[StratumKey, SurvivalCurve], *, now: dt.datetime
) -> ForecastReport:
    # Each batch commits on its own: a decision racing the refresh waits for one batch at most,
    # and the version check keeps its result.
    windows = windows_for(clocks, curves)
    report = _store_windows(clocks, windows, now=now)
    _clear_stale_windows()
    return report


def forecast_after_application_change(
    application: LicenseApplication, *, now: dt.datetime
) -> Window | None:
    """In the caller's transaction, after a status change, clock stop or flag change.

    Just decided: store its decision times and clear its window. Open with a running clock:
    recompute its window from the stored curves. Otherwise: clear the window.
    """
    row = LicenseApplication.objects.select_related("authority").get(pk=application.pk)
    if row.decided_at is not None and row.decision_working_days is None:
        _store_decision_days(row)
    clocks = open_clocks(open_queryset().filter(pk=row.pk), now=now)
    if not clocks:
        _clear_windows(LicenseApplication.objects.filter(pk=row.pk))
        return None
    curves = stored_curves([clock.subject for clock in clocks])
    windows = windows_for(clocks, curves)
    _store_windows(clocks, windows, now=now)
    return windows[0]


def _store_decision_days(application: LicenseApplication) -> None:
    authority = application.authority
    working, calendar_days = decision_days(
        clock_started_at=application.clock_started_at,
        decided_at=application.decided_at,
        unit=authority.review_period_unit,
        zone=ZoneInfo(authority.time_zone),
        calendar=working_calendar(authority.calendar_country),
        events=[
            StatusEvent(to_status, occurred_at)
            for to_status, occurred_at in application.status_changes.values_list(
                "to_status", "occurred_at"
            )
        ],
        stops=[
            StopPeriod(started_on, ended_on)
            for started_on, ended_on in application.clock_stops.values_list(
                "started_on", "ended_on"
            )
        ],
    )
    LicenseApplication.objects.filter(pk=application.pk).update(
        decision_working_days=working, decision_calendar_days=calendar_days
    )


# -- backtest ----------------------------------------------------------------------------------


@dataclass
class BacktestReport:
    """How the forecast made at `at` compared with what happened (`python manage.py backtest_forecast`)."""

    at: dt.datetime
    fitted_decisions: int = 0
    predicted: int = 0
    statutory_fallbacks: int = 0
    no_estimate: int = 0
    decided: int = 0
    withdrawn: int = 0
    still_open: int = 0
    inside_p90: int = 0
    p50_abs_errors_working_days: list[int] = field(default_factory=list)
    p50_abs_errors_calendar_days: list[int] = field(default_factory=list)
    by_basis: dict[str, int] = field(default_factory=dict)
    # Per authority code: the fitted unconditional median and p90 (counting days), and decisions.
    authority_quantiles: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        def share(count: int) -> float | None:
            return round(count / self.decided, 4) if self.decided else None

        def median(values: list[int]) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            middle = len(ordered) // 2
            if len(ordered) % 2:
                return float(ordered[middle])
            return (ordered[middle - 1] + ordered[middle]) / 2

        return {
            "at": self.at.isoformat(),
            "fitted_decisions": self.fitted_decisions,
            "predicted": self.predicted,
            "by_basis": dict(sorted(self.by_basis.items())),
            "authority_quantiles": self.authority_quantiles,
            "statutory_fallbacks": self.statutory_fallbacks,
            "no_estimate": self.no_estimate,
            "outcomes": {
                "decided": self.decided,
                "withdrawn": self.withdrawn,
                "still_open": self.still_open,
            },
            "share_decided_by_p90": share(self.inside_p90),
            "p50_median_abs_error_working_days": median(self.p50_abs_errors_working_days),
            "p50_median_abs_error_calendar_days": median(self.p50_abs_errors_calendar_days),
        }


def forecast_backtest(*, at: dt.datetime) -> BacktestReport:
    """Replay the forecast as it would have been made at `at`, and score it against what happened.

    Fits on the decisions made before `at` (approvals and denials; withdrawals censored),
    with the applications open at `at` censored at their age then (status changes after
    `at` ignored); predicts a window for each of those, and compares it with its real
    decision. Withdrawn ones and those still open today have no decision to compare with;
    neither have windows without an estimate (no history and no statutory deadline).
    Reads only: nothing is stored.

    Not everything is replayed: clock stops count only when recorded (`created_at`) and
    started by `at`, but `is_escalated` and `involves_watch_listed_party` (which decide
    whether a statutory deadline applies) are read as they are today, and so are the
    applications' lines (item, destination) and the catalogue's material families.
    """
    report = BacktestReport(at=at)
    history = decided_history(before=at)
    report.fitted_decisions = sum(n for _, _, decided, n, _ in history if decided)
    open_then = LicenseApplication.objects.filter(clock_started_at__lt=at).filter(
        Q(decided_at__isnull=True) | Q(decided_at__gte=at)
    )
    clocks = open_clocks(open_then, now=at, as_of=at, whole_catalogue=True)
    curves = fit_curves(history, clocks)
    windows = windows_for(clocks, curves)
    codes = {str(pk): code for pk, code in LicensingAuthority.objects.values_list("pk", "code")}
    by_authority: dict[str, Counter] = {}
    for key, curve in curves.items():
        if key[0] == Basis.AUTHORITY:  # one per organization unless pooled: merge them
            merged = by_authority.setdefault(codes[key[2]], Counter())
            for duration, decided, censored in curve.rows():
                merged[(duration, True)] += decided
                merged[(duration, False)] += censored
    for code, counts in sorted(by_authority.items()):
        curve = SurvivalCurve.from_counts(counts)
        report.authority_quantiles[code] = {
            "decided": curve.total_decided,
            "p50_days": curve.conditional_quantile(P50, 0),
            "p90_days": curve.conditional_quantile(P90, 0),
        }
    outcomes = {
        pk: rest
        for pk, *rest in open_then.order_by().values_list(
            "pk", "status", "decided_at", "authority__time_zone"
        )
    }
    report.predicted = len(clocks)
    for clock, window in zip(clocks, windows, strict=True):
        report.by_basis[window.basis] = report.by_basis.get(window.basis, 0) + 1
        if window.basis == Basis.STATUTORY_DEADLINE:
            report.statutory_fallbacks += 1
        if window.p90 is None or window.p50 is None:
            report.no_estimate += 1
            continue
        status, decided_at, time_zone = outcomes[clock.id]
        if decided_at is None:
            report.still_open += 1
            continue
        if status == ApplicationStatus.WITHDRAWN:
            report.withdrawn += 1
            continue
        report.decided += 1
        decided_on = _local_date(decided_at, ZoneInfo(time_zone))
        if decided_on <= window.p90:
            report.inside_p90 += 1
        early, late = sorted((decided_on, window.p50))
        report.p50_abs_errors_calendar_days.append((late - early).days)
        report.p50_abs_errors_working_days.append(
            clock.days.calendar.working_days_between(early, late)
        )
    return report
