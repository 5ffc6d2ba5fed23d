"""What the forecast reads: one application's change reads its own item, not the catalogue; a
backtest reads clock stops as they stood then."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import ClockStop, ControlledItem
from licensing.services import forecasts
from tests.delays.conftest import beijing
from tests.factories import ControlledItemFactory, walk_application
from tests.forecast.conftest import under_review

CATALOGUE_TABLES = ('"licensing_controlleditem"', '"licensing_licensingauthority"')


def catalogue_reads(organization, exporter, item) -> tuple[int, list[str]]:
    """The queries of one status change (under review -> information requested): how many,
    and the SQL of those reading the items or authorities."""
    application = under_review(organization, exporter, item)
    with CaptureQueriesContext(connection) as queries:
        walk_application(application, [("info_requested", beijing("2025-11-10", hour=9))])
    sql = [query["sql"] for query in queries.captured_queries]
    return len(sql), [s for s in sql if any(f"FROM {table}" in s for table in CATALOGUE_TABLES)]


def test_a_status_change_reads_its_own_item_whatever_the_catalogue_size(
    organization, exporter, dysprosium, clock
):
    small_count, _ = catalogue_reads(organization, exporter, dysprosium)
    ControlledItemFactory.create_batch(200, authority=dysprosium.authority)
    assert ControlledItem.objects.count() > 200
    large_count, large_reads = catalogue_reads(organization, exporter, dysprosium)

    assert large_count == small_count
    # The forecast's reads of the catalogue are narrowed to the application's items and
    # authority (a subquery on its lines), never a scan of every item.
    assert large_reads, "the forecast reads the item's material family"
    for sql in large_reads:
        assert " WHERE " in sql, sql


def test_a_backtest_ignores_clock_stops_recorded_or_started_after_its_date(
    organization, exporter, dysprosium, clock
):
    """Accepted Mon 3 Nov 2025; the backtest at Mon 10 Nov, 12:00 Beijing sees 5 counting
    days. A stop over Wed 5 - Thu 6 Nov entered on Tue 11 Nov was not known then, and one
    starting on Wed 12 Nov (entered beforehand) had not started."""
    application = under_review(organization, exporter, dysprosium)
    as_of = beijing("2025-11-10", hour=12)
    entered_late = ClockStop.objects.create(
        application=application,
        kind="expert_review",
        started_on=dt.date(2025, 11, 5),
        ended_on=dt.date(2025, 11, 6),
    )
    ClockStop.objects.filter(pk=entered_late.pk).update(created_at=beijing("2025-11-11"))
    planned = ClockStop.objects.create(
        application=application, kind="expert_review", started_on=dt.date(2025, 11, 12)
    )
    ClockStop.objects.filter(pk=planned.pk).update(created_at=beijing("2025-11-01"))
    queryset = forecasts.open_queryset().filter(pk=application.pk)

    [then] = forecasts.open_clocks(queryset, now=as_of, as_of=as_of)
    [today] = forecasts.open_clocks(queryset, now=beijing("2025-11-13", hour=12))

    assert then.age == 5
    assert then.days.paused == frozenset()
    # Read today, both count: 8 working days to Thu 13 Nov, minus 5-6 and 12-13 Nov.
    assert today.age == 4
    assert {dt.date(2025, 11, 5), dt.date(2025, 11, 12)} <= today.days.paused
