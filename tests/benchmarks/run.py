"""`make bench`: the performance claims of issues 3, 4, 5 and 7, measured side by side on PostgreSQL.

    make bench                      # DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench
    BENCH_DATABASE_URL=postgres://user@host:5432/bench_mine make bench
    python -m tests.benchmarks.run --only webhooks   # just issue 5's (DATABASE_URL set)
    python -m tests.benchmarks.run --only forecast   # or stats: issue 7's

Seven databases, all named after the one in the URL (which must start with `bench`):
`<name>` (the API: 1,000,000 + 20,000 shipments), `<name>_scan_10k`, `<name>_scan_1m`
(open applications for the scan), `<name>_alerts` (10,000 due) and `<name>_webhooks` (no
seed: issue 5's deliveries through a real Celery worker on Redis), `<name>_forecast` and
`<name>_stats` (issue 7: 1,000,000 decided and 100,000 open applications each). Each is created and
migrated when needed and seeded with COPY when its row counts differ from what the seed
produces (a partial or older seed is dropped first); a second run re-uses them and
only restores what the benchmarks change. No other database is touched.

Every result is one line, `bench: <name> = <value> (target <op> <number>) PASS|MISS`, or
`bench: <name> = <value><unit>` for context without a target; lines starting with `#` are
notes. The exit status is 0 when every benchmark ran, whatever PASS or MISS said: a MISS is
a finding to read, not a crash. See bench_api.py, bench_delays.py, bench_webhooks.py,
bench_forecast.py and bench_stats.py for what each measures.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from functools import partial

import django


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="make bench")
    parser.add_argument(
        "--only",
        choices=["webhooks", "forecast", "stats"],
        help="run one benchmark only (its database alone)",
    )
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()

    from django.db import connection

    from tests.benchmarks import (
        bench_api,
        bench_delays,
        bench_forecast,
        bench_stats,
        bench_webhooks,
        databases,
        measure,
        seed,
    )

    measure.console_logging_to_devnull()
    started = time.perf_counter()
    main_name = databases.main_database_name()
    single = {
        "webhooks": partial(bench_webhooks.run, f"{main_name}_webhooks"),
        "forecast": partial(bench_forecast.run, f"{main_name}_forecast"),
        "stats": partial(bench_stats.run, f"{main_name}_stats"),
    }
    if options.only:
        single[options.only]()
        databases.switch_database(main_name)
        return
    names = bench_delays.DelayDatabases(
        small=f"{main_name}_scan_10k", large=f"{main_name}_scan_1m", alerts=f"{main_name}_alerts"
    )
    # (database, open applications, due applications) of the delay benchmarks
    populations = (
        (names.small, bench_delays.SMALL, bench_delays.DUE),
        (names.large, bench_delays.LARGE, bench_delays.DUE),
        (names.alerts, bench_delays.ALERTS, bench_delays.ALERTS),
    )
    _prepare(main_name, seed.expected_api_counts(), seed.api_counts, seed.seed_api)
    for name, open_count, due in populations:
        _prepare(
            name,
            seed.expected_scan_counts(open_count),
            seed.scan_counts,
            partial(seed.seed_scan, open_applications=open_count, due=due),
        )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    dataset = seed.api_dataset()
    measure.note(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Django {django.get_version()}, PostgreSQL {server_version.split()[0]}"
    )
    measure.note(
        f"database {main_name}: {dataset.shipments:,} shipments of one organization and "
        f"{dataset.other_shipments:,} of another, {seed.expected_api_counts()['shipment lines']:,}"
        f" lines, {seed.expected_api_counts()['applications']:,} applications"
    )
    for name, open_count, due in populations:
        measure.note(
            f"database {name}: {open_count:,} open applications ({3 * open_count:,} status changes), "
            f"{due:,} due at {seed.SCAN_NOW.isoformat()}"
        )
    measure.note(f"ready after {time.perf_counter() - started:.0f} s")

    bench_api.run(dataset)
    bench_delays.run(names)
    for run_benchmark in single.values():
        run_benchmark()
    databases.switch_database(main_name)
    measure.note(f"make bench took {time.perf_counter() - started:.0f} s")


def _prepare(
    name: str,
    expected: dict[str, int],
    counts: Callable[[], dict[str, int]],
    seed_database: Callable[[], None],
) -> None:
    """Create, migrate and seed `name` unless it already holds exactly the expected rows."""
    from tests.benchmarks import databases, measure

    created = databases.ensure_database(name)
    with databases.using_database(name):
        found = counts()
    if found == expected:
        measure.note(f"database {name}: re-using the seeded data")
        return
    if not created:
        measure.note(
            f"database {name}: found {found or 'no seed'}, expected {expected}: re-seeding"
        )
        databases.drop_database(name)
        databases.ensure_database(name)
    started = time.perf_counter()
    with databases.using_database(name):
        seed_database()
    measure.note(f"database {name}: seeded in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
