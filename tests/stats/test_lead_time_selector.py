"""licensing.selectors.lead_times: the percentile definition, both engines, pooling, the chart.

Durations are stored directly (see conftest.py) unless a test says otherwise.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.test import override_settings

from licensing.models import ApplicationStatus
from licensing.selectors.lead_times import (
    ApplicationFilters,
    Engine,
    GroupBy,
    WindowBy,
    default_engine,
    durations_of,
    lead_time_chart_rows,
    lead_times_by_group,
    percentile_cont,
)
from tests.factories import ExporterFactory, OrganizationFactory
from tests.stats.conftest import decided_application
from tests.stats.test_lead_times_api import groups, report

S = ApplicationStatus


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([10, 20, 30, 40], 0.5, 25.0),
        ([10, 20, 30, 40], 0.75, 32.5),
        ([10, 20, 30, 40], 0.9, 37.0),
        ([7], 0.9, 7.0),
        ([1, 2], 0.9, 1.9),
        ([3, 3, 3, 100], 0.5, 3.0),
        ([], 0.5, None),
    ],
)
def test_percentile_cont_interpolates_linearly_between_ranks(values, fraction, expected):
    result = percentile_cont(values, fraction)
    assert result == pytest.approx(expected) if expected is not None else result is None


def test_percentile_cont_matches_postgresql(postgres_only):
    """The Python definition against PostgreSQL's own percentile_cont, on random samples."""
    rng = random.Random(7)
    for size in (1, 2, 3, 10, 101, 1000):
        values = sorted(rng.randint(1, 400) for _ in range(size))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
                "percentile_cont(0.75) WITHIN GROUP (ORDER BY v), "
                "percentile_cont(0.9) WITHIN GROUP (ORDER BY v) FROM unnest(%s::int[]) AS v",
                [values],
            )
            in_sql = cursor.fetchone()
        in_python = tuple(percentile_cont(values, q) for q in (0.5, 0.75, 0.9))
        assert in_python == in_sql, size


@pytest.mark.parametrize("group_by", GroupBy.values)
@pytest.mark.parametrize("window", WindowBy.values)
def test_both_engines_agree(postgres_only, history, group_by, window):
    """On PostgreSQL: percentile_cont in SQL and the Python engine give the same report."""
    now = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    common = {
        "organization_id": history.world.ours.organization.pk,
        "group_by": group_by,
        "window": window,
        "date_from": dt.date(2025, 3, 5),
        "date_to": dt.date(2025, 12, 31),
        "now": now,
        "pooled": True,
    }
    in_sql = lead_times_by_group(engine=Engine.SQL, **common)
    in_python = lead_times_by_group(engine=Engine.PYTHON, **common)
    assert in_sql.groups, group_by
    assert in_sql == in_python


def test_the_engine_defaults_to_sql_on_postgresql_and_python_elsewhere(history):
    organization = history.world.ours.organization
    default = lead_times_by_group(organization_id=organization.pk, group_by=GroupBy.ITEM)
    python = lead_times_by_group(
        organization_id=organization.pk, group_by=GroupBy.ITEM, engine=Engine.PYTHON
    )
    assert default == python
    expected = Engine.SQL if connection.vendor == "postgresql" else Engine.PYTHON
    assert default_engine() == expected
    assert [group.key for group in default.groups] == ["1C904", "1C905", "CN-23-GA"]


def pool_member(history, name: str, working_days: list[int]):
    """Another organization with CN-MOFCOM 1C905 approvals of the given working days."""
    organization = OrganizationFactory(name=name)
    exporter = ExporterFactory(organization=organization)
    for working in working_days:
        decided_application(
            organization=organization,
            exporter=exporter,
            authority_code="CN-MOFCOM",
            items=[history.dysprosium],
            status=S.APPROVED,
            started="2025-03-03",
            decided="2025-06-30",
            working_days=working,
            calendar_days=working + 10,
        )
    return organization


def test_pooling_is_off_by_default(history):
    body = report(history.world.ours.api, group_by="item")
    assert body["pooling"]["enabled"] is False
    assert all(group["pooled"] is None for group in body["groups"])


@override_settings(SHARE_ANONYMOUS_STATS=True)
def test_pooled_figures_cover_every_organization_in_groups_large_enough(history):
    """Ours (10, 20, 30, 40), theirs (99 x3) and a third's (50, 60): three organizations."""
    pool_member(history, "Third Buyer AG", [50, 60])

    body = report(history.world.ours.api, group_by="item")

    assert body["pooling"] == {"enabled": True, "min_samples": 5, "min_organizations": 3}
    dysprosium = groups(body)["1C905"]
    # Our own figures are unchanged ...
    assert dysprosium["decision_time"]["working_days"]["median"] == 25.0
    # ... and the pool has all nine durations: 10 20 30 40 50 60 99 99 99.
    assert dysprosium["pooled"] == {
        "decided_count": 10,  # with our withdrawal
        "working_days": {"sample_size": 9, "median": 50.0, "p75": 99.0, "p90": 99.0},
        "calendar_days": {"sample_size": 9, "median": 60.0, "p75": 120.0, "p90": 120.0},
    }
    # 1C904 (one decision) and gallium (ours only) are too small to pool.
    assert groups(body)["1C904"]["pooled"] is None
    assert groups(body)["CN-23-GA"]["pooled"] is None


@override_settings(SHARE_ANONYMOUS_STATS=True)
def test_two_organizations_are_never_pooled_however_many_decisions(history):
    """Ours and theirs only: subtracting ours would reveal theirs, so nothing is pooled."""
    body = report(history.world.ours.api, group_by="item")
    assert body["pooling"]["enabled"] is True
    assert groups(body)["1C905"]["pooled"] is None


@override_settings(SHARE_ANONYMOUS_STATS=True)
def test_exporters_are_never_pooled(history):
    pool_member(history, "Third Buyer AG", [50, 60])
    by_exporter = report(history.world.ours.api, group_by="exporter")
    assert by_exporter["pooling"]["enabled"] is False
    assert all(group["pooled"] is None for group in by_exporter["groups"])

    filtered = report(history.world.ours.api, exporter=str(history.rare_earth_exporter.pk))
    assert filtered["pooling"]["enabled"] is False
    assert groups(filtered)["CN-MOFCOM"]["pooled"] is None
    # Without the exporter filter the same group is pooled.
    assert groups(report(history.world.ours.api))["CN-MOFCOM"]["pooled"] is not None


def test_the_chart_rows_give_median_and_p90_per_authority_and_family(history):
    now = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    organization = history.world.ours.organization

    rows = lead_time_chart_rows(organization_ids=[organization.pk], now=now)

    assert [(r.authority, r.material_family, r.label, r.median, r.p90, r.n) for r in rows] == [
        ("CN-MOFCOM", "rare_earth", "CN-MOFCOM · rare earths", 25.0, 37.0, 4),
        # B1 and B2 are US-BIS applications, their lines of a gallium item.
        ("US-BIS", "gallium", "US-BIS · gallium", 7.0, 7.0, 1),
    ]
    # Every organization's (theirs: 99 x3), and only the last `months`: A1 decided 2025-03-17.
    everyone = lead_time_chart_rows(now=now)
    assert everyone[0].n == 7
    recent = lead_time_chart_rows(organization_ids=[organization.pk], months=8, now=now)
    assert recent[0].n == 3  # A2 (2025-04-07), A3, A5; A1 falls before 2025-04-01


def test_durations_of_rounds_to_two_digits():
    assert durations_of([1, 2, 2]) == durations_of([2, 1, 2])
    figures = durations_of([1, 2, 4])
    assert (figures.sample_size, figures.median, figures.p75, figures.p90) == (3, 2.0, 3.0, 3.6)


def test_filters_reach_the_selector_unchanged(history):
    report_ = lead_times_by_group(
        organization_id=history.world.ours.organization.pk,
        filters=ApplicationFilters(statuses=(S.WITHDRAWN,)),
    )
    assert [
        (g.key, g.decided.withdrawn, g.decided.working_days.sample_size) for g in report_.groups
    ] == [("CN-MOFCOM", 1, 0)]
