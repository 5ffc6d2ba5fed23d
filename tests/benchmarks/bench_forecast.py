"""Issue 7's benchmark: recomputing every open expected-decision window after the nightly refit.

Database `<name>_forecast` (seeded with COPY, re-used while its row counts match): one
organization, CN-MOFCOM, 1,000,000 decided applications (clocks started from mid-2023,
decided before FORECAST_NOW after a lognormal number of working days whose median depends on
the item; 4 % withdrawn, 6 % denied) and 100,000 open ones under review (clock started in the
150 days before FORECAST_NOW; one in twenty had an information request answered, so its clock
paused), each with one line (20 items, 12 destinations) and, for the open ones, their status
history. The decided ones carry no status history: the forecast reads their stored
`decision_working_days`, as the stats do. Everything runs at the fixed instant FORECAST_NOW,
so the seed never goes stale.

- `forecast_refit_1m_decided_s`: one `forecast_refresh_all` (aggregate of the decided, clocks
  of the open, refit and store every curve, then every window). Context, no target.
- `forecast_recompute_100k_open_s`: `forecast_recompute_open` one day later (FORECAST_NOW + 1
  day, so the windows move; the only caller of that service): read the open applications,
  their authorities and items, status changes and clock stops (five queries), compute each
  clock and window from the stored curves, write all 100,000 windows (COPY into a temporary
  table, then one UPDATE ... FROM it per 10,000 rows).
- `forecast_set_based_read_100k_s`: one SQL statement reading the same rows: the open
  applications with their first line's item, joined with the status history of those that
  had an information request (the recompute reads only that history: nothing else can pause
  a clock), fetched whole.
- `forecast_recompute_vs_set_based_read`: the median of the per-repeat ratios of the two,
  alternating. Target <= 5: the recompute must stay within a small factor of merely reading
  its input, i.e. no per-application queries and no per-row ORM saves. The gap that remains
  is Python's: the clock and two date conversions per application, and the writes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from core.calendars import working_calendar
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    QuantityUnit,
    StatusChange,
)
from licensing.services.forecasts import (
    FORECAST_STATUSES,
    forecast_recompute_open,
    forecast_refresh_all,
)
from tests.benchmarks import measure
from tests.benchmarks.databases import ensure_database, switch_database
from tests.benchmarks.seed import (
    COUNTRIES,
    CopyInto,
    make_exporters,
    mofcom_items,
    stable_uuid,
    vacuum,
)

SEED_VERSION = "bench-forecast-1"
ORGANIZATION = f"{SEED_VERSION} buyer"
DECIDED = 1_000_000
OPEN = 100_000
EXPORTERS = 20
FORECAST_NOW = dt.datetime(2025, 6, 18, 4, 0, tzinfo=dt.UTC)
NEXT_NIGHT = FORECAST_NOW + dt.timedelta(days=1)
FIRST_START = dt.date(2023, 6, 1)
REPEATS = 5
RATIO_TARGET = "<= 5"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def paused(index: int) -> bool:
    """One open application in twenty had an information request, answered."""
    return index % 20 == 0


def expected_counts() -> dict[str, int]:
    return {
        "applications": DECIDED + OPEN,
        "application lines": DECIDED + OPEN,
        "status changes": 3 * OPEN + 2 * sum(paused(i) for i in range(OPEN)),
    }


def counts() -> dict[str, int]:
    if not Organization.objects.filter(name=ORGANIZATION).exists():
        return {}
    return {
        "applications": LicenseApplication.objects.count(),
        "application lines": ApplicationLine.objects.count(),
        "status changes": StatusChange.objects.count(),
    }


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)


def seed() -> None:
    """1,000,000 decided and 100,000 open applications, their lines and the open ones' history."""
    authority = LicensingAuthority.objects.get(code="CN-MOFCOM")
    calendar = working_calendar(authority.calendar_country)
    items = mofcom_items()
    # Each item its own pace: medians from 25 to 60 working days.
    medians = {item.pk: 25 + (index * 7) % 36 for index, item in enumerate(items)}
    rng = random.Random(SEED_VERSION)
    today = FORECAST_NOW.astimezone(SHANGHAI).date()
    applications = CopyInto(
        LicenseApplication,
        [
            "id",
            "created_at",
            "updated_at",
            "exporter_id",
            "destination_country",
            "status",
            "authority_reference",
            "submitted_at",
            "accepted_at",
            "clock_started_at",
            "decided_at",
            "decision_working_days",
            "decision_calendar_days",
            "organization_id",
        ],
        {
            "authority_id": authority.pk,
            "license_type": "single",
            "end_user_name": "Rheinland Motoren GmbH",
            "end_user_country": "DE",
            "end_use": "Manufacture of permanent-magnet motors.",
            "version": 4,
        },
    )
    lines = CopyInto(
        ApplicationLine,
        ["application_id", "item_id", "quantity"],
        {"position": 0, "unit": QuantityUnit.KILOGRAM},
    )
    changes = CopyInto(
        StatusChange,
        ["id", "application_id", "from_status", "to_status", "occurred_at", "recorded_at"],
        {"actor_label": "bench seed"},
    )
    line_rows: list[tuple] = []
    change_rows: list[tuple] = []
    decided_span = (today - dt.timedelta(days=120) - FIRST_START).days
    S = ApplicationStatus

    def decided_rows(organization_id: uuid.UUID, exporters: list) -> Iterable[tuple]:
        for index in range(DECIDED):
            item = items[index % len(items)]
            start = FIRST_START + dt.timedelta(days=rng.randint(0, decided_span))
            while not calendar.is_working_day(start):
                start += dt.timedelta(days=1)
            days = max(3, round(rng.lognormvariate(math.log(medians[item.pk]), 0.35)))
            draw = rng.random()
            status = S.WITHDRAWN if draw < 0.04 else S.DENIED if draw < 0.10 else S.APPROVED
            if status == S.WITHDRAWN:
                days = max(1, days // 2)
            decided_on = calendar.add_working_days(start, days)
            if decided_on >= today:  # the history holds decisions made before FORECAST_NOW
                decided_on = today - dt.timedelta(days=1)
                days = calendar.working_days_between(start, decided_on)
            application_id = stable_uuid("forecast-decided", index)
            accepted = _at(start)
            decided = _at(decided_on)
            line_rows.append((application_id, item.pk, Decimal(100)))
            yield (
                application_id,
                accepted - dt.timedelta(days=3),
                decided,
                exporters[index % EXPORTERS].pk,
                COUNTRIES[(index // len(items)) % len(COUNTRIES)],
                status,
                f"MOFCOM-D{index:07d}",
                accepted - dt.timedelta(days=3),
                accepted,
                accepted,
                decided,
                days,
                (decided_on - start).days,
                organization_id,
            )

    def open_rows(organization_id: uuid.UUID, exporters: list) -> Iterable[tuple]:
        for index in range(OPEN):
            item = items[index % len(items)]
            start = today - dt.timedelta(days=rng.randint(1, 150))
            while not calendar.is_working_day(start):
                start -= dt.timedelta(days=1)
            application_id = stable_uuid("forecast-open", index)
            accepted = _at(start)
            line_rows.append((application_id, item.pk, Decimal(100)))
            steps = [
                (S.DRAFT, S.SUBMITTED, accepted - dt.timedelta(days=3)),
                (S.SUBMITTED, S.ACCEPTED, accepted),
                (S.ACCEPTED, S.UNDER_REVIEW, accepted + dt.timedelta(hours=1)),
            ]
            if paused(index):
                asked = accepted + dt.timedelta(days=1)
                steps += [
                    (S.UNDER_REVIEW, S.INFO_REQUESTED, asked),
                    (S.INFO_REQUESTED, S.UNDER_REVIEW, asked + dt.timedelta(days=6)),
                ]
            for step, (from_status, to_status, occurred) in enumerate(steps):
                change_rows.append(
                    (
                        stable_uuid(f"forecast-change-{step}", index),
                        application_id,
                        from_status,
                        to_status,
                        occurred,
                        occurred,
                    )
                )
            yield (
                application_id,
                accepted - dt.timedelta(days=3),
                steps[-1][2],
                exporters[index % EXPORTERS].pk,
                COUNTRIES[(index // len(items)) % len(COUNTRIES)],
                S.UNDER_REVIEW,
                f"MOFCOM-O{index:07d}",
                accepted - dt.timedelta(days=3),
                accepted,
                accepted,
                None,
                None,
                None,
                organization_id,
            )

    with transaction.atomic():
        organization = Organization.objects.create(
            id=stable_uuid("forecast-organization", 0), name=ORGANIZATION
        )
        exporters = make_exporters(organization, EXPORTERS, rng, kind="forecast")
        applications.copy(decided_rows(organization.pk, exporters))
        applications.copy(open_rows(organization.pk, exporters))
        lines.copy(line_rows)
        changes.copy(change_rows)
    vacuum(LicenseApplication, ApplicationLine, StatusChange, analyze=True)


def prepare(name: str) -> None:
    """Create, migrate and seed `name` unless it holds exactly the expected rows."""
    from tests.benchmarks.databases import drop_database

    created = ensure_database(name)
    switch_database(name)
    found = counts()
    if found == expected_counts():
        measure.note(f"database {name}: re-using the seeded data")
        return
    if not created:
        measure.note(f"database {name}: found {found or 'no seed'}: re-seeding")
        drop_database(name)
        ensure_database(name)
        switch_database(name)
    started = time.perf_counter()
    seed()
    measure.note(f"database {name}: seeded in {time.perf_counter() - started:.0f} s")


def set_based_read() -> int:
    """The rows the recompute reads, in one statement: the open applications with their first
    line's item, and the status history of those that had an information request (the only
    history that can pause a clock; the seed has no clock stops)."""
    applications = LicenseApplication._meta.db_table
    lines = ApplicationLine._meta.db_table
    changes = StatusChange._meta.db_table
    statuses = list(FORECAST_STATUSES)
    placeholders = ", ".join(["%s"] * len(statuses))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, a.version, a.organization_id, a.authority_id, a.destination_country, "  # noqa: S608 (no user input)
            "a.clock_started_at, a.is_escalated, a.involves_watch_listed_party, "
            "a.expected_decision_p50, a.expected_decision_p90, a.expected_decision_basis, "
            "a.expected_decision_sample_size, "
            f"(SELECT l.item_id FROM {lines} l WHERE l.application_id = a.id "
            "ORDER BY l.position, l.id LIMIT 1), c.to_status, c.occurred_at "
            f"FROM {applications} a LEFT JOIN {changes} c ON c.application_id = a.id "
            f"AND EXISTS (SELECT 1 FROM {changes} r WHERE r.application_id = a.id "
            "AND r.to_status = %s) "
            f"WHERE a.status IN ({placeholders}) AND a.clock_started_at IS NOT NULL",
            [ApplicationStatus.INFO_REQUESTED, *statuses],
        )
        return len(cursor.fetchall())


def run(name: str) -> None:
    """Prepare `name` (bench*_forecast), measure, print the lines."""
    measure.console_logging_to_devnull()
    prepare(name)
    started = time.perf_counter()
    refit = forecast_refresh_all(now=FORECAST_NOW)
    refit_seconds = time.perf_counter() - started
    if refit.applications != OPEN:
        raise AssertionError(
            f"Expected {OPEN} open windows; the refresh computed {refit.applications}."
        )
    measure.note(
        f"forecast: {DECIDED:,} decided, {OPEN:,} open; {refit.curves} curves; "
        f"{refit.statutory_fallbacks} windows on the statutory deadline"
    )
    measure.report("forecast_refit_1m_decided", refit_seconds, unit=" s")

    rows: list[int] = []
    reports = []
    recompute = measure.Side(run=lambda: reports.append(forecast_recompute_open(now=NEXT_NIGHT)))
    read = measure.Side(run=lambda: rows.append(set_based_read()))
    read.run()  # warm-up: the same pages in the cache for both sides
    recompute.run()
    recompute_times, read_times = measure.alternate(recompute, read, repeats=REPEATS)
    if any(report.written != OPEN for report in reports):
        raise AssertionError(
            f"Expected every recompute to write {OPEN} windows: {[r.written for r in reports]}"
        )
    measure.report("forecast_recompute_100k_open", statistics.median(recompute_times), unit=" s")
    measure.report("forecast_set_based_read_100k", statistics.median(read_times), unit=" s")
    measure.note(f"the set-based read returns {rows[-1]:,} rows (applications x status changes)")
    measure.report(
        "forecast_recompute_vs_set_based_read",
        measure.median_ratio(recompute_times, read_times),
        target=RATIO_TARGET,
    )
