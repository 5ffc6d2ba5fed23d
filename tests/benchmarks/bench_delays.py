"""Issue 4's benchmark: the delay scan, whose cost must follow what is due, not what is open.

The scan is global (it reads every organization's due rows through the partial index on
`next_check_at`), so "10,000 open" and "1,000,000 open" cannot share a table. They are two
databases, seeded by the same generator (seed.py): `<name>_scan_10k` and `<name>_scan_1m`.
Their first 1,000 applications are the same rows in both (same ids, status history, lines
and clocks: accepted 31-38 working days before the scan, so each reaches `warning`, and
nothing else, when scanned); every other application is under review, accepted 1-25 working
days before, with its next check on its warning day, in the future. The scan runs at a
fixed instant (seed.SCAN_NOW, the `--now` of `scan_delays`), so the data never go stale.

Before each timed scan, untimed: the alert tables are truncated, the 1,000 due rows get back
their seeded delay fields (due, level none) and the applications table is vacuumed, so each
repeat meets the same state in both databases. Each timed scan is checked: 1,000 evaluated,
1,000 alerts raised.

- `delay_scan_1m_vs_10k_open`: seconds of one scan over 1,000,000 open applications divided
  by one over 10,000, both with the same 1,000 due; in-process, alternating the databases.
- `alert_raise_vs_bulk_create`: on a third database (`<name>_alerts`: 10,000 open, all due,
  each reaching one level), one scan that raises the 10,000 alerts, divided by a bare
  `DelayAlert.objects.bulk_create` of the same 10,000 rows (the rows the scan raised, copied
  field by field; the alert table emptied before each side). No target in the issue.
- `scan_worker_rss_1m_vs_10k`: the peak RSS (VmHWM; see scan_worker.py for why not ru_maxrss) of
  a fresh process that runs one scan (scan_worker.py, as a Celery worker would), at 1,000,000
  open divided by at 10,000.

Log records of raised alerts are written to /dev/null rather than the console: their cost
stays in the measurement, their 10,000 lines do not reach the output.

What we saw (2 cores, PostgreSQL 15, shared machine): scan cost 0.94-1.06 and worker RSS 1.00
between 10,000 and 1,000,000 open; raising alerts 26-28x a bare bulk_create (one calendar query
per application, and bulk_update's CASE WHEN). Details and suggested fixes: README.md,
"Benchmarks".
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

from django.db import connection

from licensing.models import DelayAlert
from licensing.services.delays import ScanReport, delays_scan
from tests.benchmarks import measure, seed
from tests.benchmarks.databases import PROJECT_DIR, database_url, switch_database

SMALL = 10_000
LARGE = 1_000_000
DUE = 1_000
ALERTS = 10_000
SCAN_REPEATS = 5
ALERT_REPEATS = 3
RSS_REPEATS = 3


@dataclass(frozen=True)
class DelayDatabases:
    small: str
    large: str
    alerts: str


def run(names: DelayDatabases) -> None:
    measure.console_logging_to_devnull()
    scan_cost(names)
    alert_throughput(names)
    worker_memory(names)


def _expect(report: ScanReport, due: int) -> None:
    if report.applications != due or len(report.raised) != due:
        raise AssertionError(
            f"Expected the scan to evaluate {due} applications and raise {due} alerts; "
            f"it evaluated {report.applications} and raised {len(report.raised)}."
        )


def _restored(name: str, due: int) -> None:
    switch_database(name)
    seed.restore_due(due=due)


def _scan_side(name: str, due: int) -> measure.Side:
    return measure.Side(
        setup=lambda: _restored(name, due),
        run=lambda: _expect(delays_scan(now=seed.SCAN_NOW), due),
    )


def scan_cost(names: DelayDatabases) -> None:
    large, small = _scan_side(names.large, DUE), _scan_side(names.small, DUE)
    for side in (large, small):  # warm-up: imports, calendars, the databases' caches
        side.setup()
        side.run()
    large_times, small_times = measure.alternate(large, small, repeats=SCAN_REPEATS)
    measure.report("delay_scan_10k_open_1k_due", statistics.median(small_times), unit=" s")
    measure.report("delay_scan_1m_open_1k_due", statistics.median(large_times), unit=" s")
    measure.report(
        "delay_scan_1m_vs_10k_open",
        measure.median_ratio(large_times, small_times),
        target="<= 1.5",
    )


def alert_throughput(names: DelayDatabases) -> None:
    _restored(names.alerts, ALERTS)
    queries = QueryCounter()
    with connection.execute_wrapper(queries):  # the warm-up, counted and untimed
        report = delays_scan(now=seed.SCAN_NOW)
    _expect(report, ALERTS)
    fields = [field.attname for field in DelayAlert._meta.concrete_fields]
    rows = [{name: getattr(alert, name) for name in fields} for alert in report.raised]
    built: list[DelayAlert] = []

    def bulk_setup() -> None:
        switch_database(names.alerts)
        seed.clear_alerts()
        built[:] = [DelayAlert(**row) for row in rows]

    def bulk_run() -> None:
        DelayAlert.objects.bulk_create(built)

    scan_times, bulk_times = measure.alternate(
        _scan_side(names.alerts, ALERTS),
        measure.Side(setup=bulk_setup, run=bulk_run),
        repeats=ALERT_REPEATS,
    )
    measure.report("alert_raise_scan_10k", statistics.median(scan_times), unit=" s")
    measure.report("alert_raise_scan_10k_queries", queries.count, unit=" queries")
    measure.report("alert_bulk_create_10k", statistics.median(bulk_times), unit=" s")
    measure.report(
        "alert_raise_vs_bulk_create",
        measure.median_ratio(scan_times, bulk_times),
        unit="x",
        digits=1,
    )


class QueryCounter:
    """Counts the queries run through Django's connection (no cap, unlike CaptureQueriesContext)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _worker(name: str) -> dict:
    """Restore the due rows, then run one scan in a fresh process against `name`."""
    _restored(name, DUE)
    connection.close()
    env = {**os.environ, "DATABASE_URL": database_url(name)}
    completed = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.scan_worker", seed.SCAN_NOW.isoformat()],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["applications"] != DUE or result["raised"] != DUE:
        raise AssertionError(f"The worker scan on {name} did not raise {DUE} alerts: {result}")
    return result


def worker_memory(names: DelayDatabases) -> None:
    large_kib: list[float] = []
    small_kib: list[float] = []
    for repeat in range(RSS_REPEATS):
        order = [(names.large, large_kib), (names.small, small_kib)]
        if repeat % 2:
            order.reverse()
        for name, peaks in order:
            peaks.append(_worker(name)["peak_rss_kib"])
    measure.report(
        "scan_worker_peak_rss_10k_open", statistics.median(small_kib) / 1024, unit=" MiB"
    )
    measure.report("scan_worker_peak_rss_1m_open", statistics.median(large_kib) / 1024, unit=" MiB")
    measure.report(
        "scan_worker_rss_1m_vs_10k", measure.median_ratio(large_kib, small_kib), target="<= 1.2"
    )
