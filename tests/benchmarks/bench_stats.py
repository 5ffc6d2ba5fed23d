"""Issue 7's benchmark: the lead-time statistics by item, against a bare percentile_cont query.

Database `<name>_stats` (e.g. `bench_stats`), seeded once with COPY and re-used:
1,000,000 decided and 100,000 open CN-MOFCOM applications of one organization, plus
10,000 decided of another (so tenancy filtering is real). Each application has 1 line, or
2 for one in four (1,250,000 + 125,000 lines), of the reference data's CN-MOFCOM items;
one in five two-line applications repeats its item, so the distinct-item rule is real.
Decided: 80 % approved, 12 % denied, 8 % withdrawn, clocks started over three years,
durations stored (working days 5 to ~120, item-dependent; calendar days ~1.45 times that).
Open: under review, with their status history (3 changes each), clocks started in the
last 150 days.

- `stats_lead_times_item_ms`: one `GET /api/v1/stats/lead-times/?group_by=item` through
  Django's WSGI handler with a read-only key of the big organization (middleware,
  authentication, throttling bookkeeping, validation, serializer): decided figures, open
  counts and the oldest open application's clock per item.
- `stats_raw_sql_item_ms`: one hand-written query over the same decided rows giving the
  same decided figures: counts per outcome and the six percentile_cont values per item,
  over DISTINCT (application, item) pairs. Checked before timing: equal to the API's.
- `stats_lead_times_item_vs_raw_sql`: the median of the per-repeat ratios. What the API
  adds: the open figures (a second query, over the 100,000 open), the oldest open
  applications' clocks, authentication and JSON.

Run it alone (uses `bench_stats`):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench \\
    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python -c \\
    "import django; django.setup(); from tests.benchmarks import bench_stats; bench_stats.main()"
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, transaction

from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    StatusChange,
)
from licensing.models.applications import DECIDED_STATUSES
from licensing.selectors.lead_times import (
    APPROVED_STATUSES,
    AUTHORITY_DECISION_STATUSES,
    DAYS_DIGITS,
)
from tests.benchmarks import measure, seed
from tests.benchmarks.bench_api import WsgiClient, fresh_key, get_json, raised_throttle_rate
from tests.benchmarks.databases import drop_database, ensure_database, using_database

STATS_SEED = "bench-stats-1"
ORGANIZATION = f"{STATS_SEED} buyer (1,000,000 decided)"
OTHER_ORGANIZATION = f"{STATS_SEED} other buyer"
DECIDED = 1_000_000
OPEN = 100_000
OTHER_DECIDED = 10_000
EXPORTERS = 50
REPEATS = 7
URL = "/api/v1/stats/lead-times/"
NOW = dt.datetime(2025, 6, 18, 4, 0, tzinfo=dt.UTC)


def line_count(index: int) -> int:
    return 1 + (index % 4 == 0)


def expected_counts() -> dict[str, int]:
    applications = DECIDED + OPEN + OTHER_DECIDED
    lines = sum(line_count(i) for i in range(DECIDED + OPEN)) + sum(
        line_count(i) for i in range(OTHER_DECIDED)
    )
    return {"applications": applications, "lines": lines, "status changes": 3 * OPEN}


def counts() -> dict[str, int]:
    if not Organization.objects.filter(name=ORGANIZATION).exists():
        return {}
    return {
        "applications": LicenseApplication.objects.count(),
        "lines": ApplicationLine.objects.count(),
        "status changes": StatusChange.objects.count(),
    }


# -- seed ---------------------------------------------------------------------------------------


def _decided_rows(
    organization: Organization, exporters: list, items: list, count: int, rng: random.Random
) -> tuple[Iterable[tuple], list[tuple]]:
    """Application rows (streamed) and their line rows (collected while streaming)."""
    lines: list[tuple] = []
    # Each item has its own typical wait: 15-60 working days, a long right tail.
    typical = {item.pk: 15 + 45 * rng.random() for item in items}
    first_start = NOW - dt.timedelta(days=3 * 365)

    def rows() -> Iterable[tuple]:
        for index in range(count):
            application_id = seed.random_uuid(rng)
            item_ids = [rng.choice(items).pk for _ in range(line_count(index))]
            if len(item_ids) == 2 and index % 20 == 0:
                item_ids[1] = item_ids[0]  # a repeated item: counted once
            for position, item_id in enumerate(item_ids):
                lines.append((application_id, position, item_id, Decimal(500), "kg"))
            draw = rng.random()
            status = (
                ApplicationStatus.APPROVED
                if draw < 0.80
                else ApplicationStatus.DENIED
                if draw < 0.92
                else ApplicationStatus.WITHDRAWN
            )
            working = max(5, min(250, round(rng.lognormvariate(0, 0.45) * typical[item_ids[0]])))
            calendar = round(working * 1.45) + rng.randint(0, 3)
            started = first_start + dt.timedelta(seconds=rng.uniform(0, 3 * 365 * 86400 - 1e7))
            decided = started + dt.timedelta(days=calendar)
            yield (
                application_id,
                started - dt.timedelta(days=3),
                decided,
                rng.choice(exporters).pk,
                status,
                seed.COUNTRIES[index % len(seed.COUNTRIES)],
                started - dt.timedelta(days=2),
                started,
                started,
                decided,
                working,
                calendar,
                organization.pk,
            )

    return rows(), lines


def _open_rows(
    organization: Organization, exporters: list, items: list, rng: random.Random
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    applications, lines, changes = [], [], []
    for index in range(OPEN):
        application_id = seed.random_uuid(rng)
        for position in range(line_count(index)):
            lines.append((application_id, position, rng.choice(items).pk, Decimal(500), "kg"))
        accepted = NOW - dt.timedelta(seconds=rng.uniform(86400, 150 * 86400))
        submitted = accepted - dt.timedelta(days=2)
        review = accepted + dt.timedelta(hours=20)
        applications.append(
            (
                application_id,
                submitted - dt.timedelta(days=1),
                review,
                rng.choice(exporters).pk,
                ApplicationStatus.UNDER_REVIEW,
                seed.COUNTRIES[index % len(seed.COUNTRIES)],
                submitted,
                accepted,
                accepted,
                None,
                None,
                None,
                organization.pk,
            )
        )
        for from_status, to_status, occurred in (
            (ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, submitted),
            (ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED, accepted),
            (ApplicationStatus.ACCEPTED, ApplicationStatus.UNDER_REVIEW, review),
        ):
            changes.append(
                (seed.random_uuid(rng), application_id, from_status, to_status, occurred, occurred)
            )
    return applications, lines, changes


def seed_stats() -> None:
    rng = random.Random(STATS_SEED)
    authority = LicensingAuthority.objects.get(code=seed.MOFCOM)
    items = seed.mofcom_items()
    applications = seed.CopyInto(
        LicenseApplication,
        [
            "id",
            "created_at",
            "updated_at",
            "exporter_id",
            "status",
            "destination_country",
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
            "authority_reference": "MOFCOM-BENCH",
            "end_user_name": "Rheinland Motoren GmbH",
            "end_user_country": "DE",
            "end_use": "Manufacture of permanent-magnet motors.",
            "version": 5,
        },
    )
    lines = seed.CopyInto(
        ApplicationLine, ["application_id", "position", "item_id", "quantity", "unit"]
    )
    changes = seed.CopyInto(
        StatusChange,
        ["id", "application_id", "from_status", "to_status", "occurred_at", "recorded_at"],
        {"actor_label": "bench seed"},
    )
    with transaction.atomic():
        for name, decided_count, open_too in (
            (ORGANIZATION, DECIDED, True),
            (OTHER_ORGANIZATION, OTHER_DECIDED, False),
        ):
            organization = Organization.objects.create(name=name)
            exporters = seed.make_exporters(organization, EXPORTERS, rng, kind="")
            rows, decided_lines = _decided_rows(organization, exporters, items, decided_count, rng)
            applications.copy(rows)
            lines.copy(decided_lines)
            if open_too:
                open_applications, open_lines, open_changes = _open_rows(
                    organization, exporters, items, rng
                )
                applications.copy(open_applications)
                lines.copy(open_lines)
                changes.copy(open_changes)
    seed.vacuum(LicenseApplication, ApplicationLine, StatusChange, analyze=True)


def prepare(name: str) -> None:
    created = ensure_database(name)
    with using_database(name):
        found = counts()
        if found == expected_counts():
            measure.note(f"database {name}: re-using the seeded data")
            return
    if not created:
        measure.note(f"database {name}: found {found or 'no seed'}: re-seeding")
        drop_database(name)
        ensure_database(name)
    started = time.perf_counter()
    with using_database(name):
        seed_stats()
    measure.note(f"database {name}: seeded in {time.perf_counter() - started:.0f} s")


# -- the raw query ------------------------------------------------------------------------------

RAW_SQL = """
SELECT item.control_code,
       count(*) AS decided,
       count(*) FILTER (WHERE a.status = ANY(%(approved)s)) AS approved,
       count(*) FILTER (WHERE a.status = 'denied') AS denied,
       count(*) FILTER (WHERE a.status = 'withdrawn') AS withdrawn,
       count(a.decision_working_days) FILTER (WHERE a.status = ANY(%(decisions)s)) AS working_n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.decision_working_days)
           FILTER (WHERE a.status = ANY(%(decisions)s)),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY a.decision_working_days)
           FILTER (WHERE a.status = ANY(%(decisions)s)),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY a.decision_working_days)
           FILTER (WHERE a.status = ANY(%(decisions)s)),
       count(a.decision_calendar_days) FILTER (WHERE a.status = ANY(%(decisions)s)) AS calendar_n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.decision_calendar_days)
           FILTER (WHERE a.status = ANY(%(decisions)s)),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY a.decision_calendar_days)
           FILTER (WHERE a.status = ANY(%(decisions)s)),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY a.decision_calendar_days)
           FILTER (WHERE a.status = ANY(%(decisions)s))
FROM (SELECT DISTINCT application_id, item_id FROM licensing_applicationline) AS line
JOIN licensing_licenseapplication AS a ON a.id = line.application_id
JOIN licensing_controlleditem AS item ON item.id = line.item_id
WHERE a.organization_id = %(organization)s
  AND a.status = ANY(%(decided)s)
  AND a.clock_started_at IS NOT NULL
GROUP BY item.control_code
ORDER BY item.control_code
"""


def raw_sql(organization_id: uuid.UUID) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            RAW_SQL,
            {
                "organization": organization_id,
                "approved": list(APPROVED_STATUSES),
                "decisions": list(AUTHORITY_DECISION_STATUSES),
                "decided": list(DECIDED_STATUSES),
            },
        )
        return cursor.fetchall()


def _as_api(row: tuple) -> tuple:
    """A raw row in the API's shape: key, counts, and the percentiles rounded as it does."""
    key, decided, approved, denied, withdrawn, wn, w50, w75, w90, cn, c50, c75, c90 = row
    figures = [round(value, DAYS_DIGITS) for value in (w50, w75, w90, c50, c75, c90)]
    return (key, decided, approved, denied, withdrawn, wn, cn, *figures)


def _api_rows(body: dict) -> list[tuple]:
    rows = []
    for group in body["groups"]:
        decided, times = group["decided"], group["decision_time"]
        if not decided["count"]:
            continue
        working, calendar = times["working_days"], times["calendar_days"]
        rows.append(
            (
                group["key"],
                decided["count"],
                decided["approved"],
                decided["denied"],
                decided["withdrawn"],
                working["sample_size"],
                calendar["sample_size"],
                *(working[name] for name in ("median", "p75", "p90")),
                *(calendar[name] for name in ("median", "p75", "p90")),
            )
        )
    return rows


# -- the benchmark ------------------------------------------------------------------------------


def run(name: str) -> None:
    """Seed `name` if needed, then time the API against the raw query (prints bench lines)."""
    prepare(name)
    with using_database(name), raised_throttle_rate("1000000/min"):
        organization = Organization.objects.get(name=ORGANIZATION)
        measure.note(
            f"database {name}: {DECIDED:,} decided and {OPEN:,} open applications of one "
            f"organization, {OTHER_DECIDED:,} decided of another"
        )
        api = WsgiClient(authorization=f"Api-Key {fresh_key(ORGANIZATION)}")
        query = {"group_by": "item"}
        body = get_json(api, URL, query)
        raw = [_as_api(row) for row in raw_sql(organization.pk)]
        if _api_rows(body) != raw:
            raise AssertionError("The API and the raw query disagree on the decided figures.")
        open_total = sum(group["open"]["count"] for group in body["groups"])
        measure.note(
            f"{len(body['groups'])} items; open application-item pairs: {open_total:,} "
            "(checked: decided figures equal the raw query's)"
        )

        def api_once() -> None:
            status, _ = api.get(URL, query)
            assert status == 200

        def raw_once() -> None:
            raw_sql(organization.pk)

        api_times, raw_times = measure.alternate(
            measure.Side(api_once), measure.Side(raw_once), repeats=REPEATS
        )
        measure.report("stats_lead_times_item", 1000 * statistics.median(api_times), unit=" ms")
        measure.report("stats_raw_sql_item", 1000 * statistics.median(raw_times), unit=" ms")
        measure.report(
            "stats_lead_times_item_vs_raw_sql",
            measure.median_ratio(api_times, raw_times),
            target="<= 2.0",
        )


def main() -> None:
    """Run this benchmark alone, after django.setup() (see the module docstring)."""
    from tests.benchmarks import databases

    measure.console_logging_to_devnull()
    run(f"{databases.main_database_name()}_stats")
