"""Whose history a window rests on: each organization's own, or (SHARE_ANONYMOUS_STATS) a pool
of at least POOL_MIN_ORGANIZATIONS organizations, never one other organization's decisions."""

from __future__ import annotations

import datetime as dt

from django.test import override_settings

from licensing.models import ForecastCurve, LicenseApplication
from licensing.selectors.lead_times import POOL_MIN_ORGANIZATIONS
from licensing.tasks import refresh_forecasts
from tests.factories import ExporterFactory, OrganizationFactory
from tests.forecast.conftest import NOW, under_review
from tests.forecast.history import build_history
from tests.forecast.test_refresh import working_days_after_start

DECISIONS = 60


def decided_at_pace(organization, item, *, days: int, seed: int) -> None:
    """DECISIONS decided applications of `organization` for `item` to Germany, each after
    `days` to `days` + 4 working days (all decided before now)."""
    build_history(
        organization=organization,
        exporter=ExporterFactory(organization=organization),
        authority=item.authority,
        item=item,
        count=DECISIONS,
        first_start=dt.date(2024, 5, 1),
        last_start=dt.date(2025, 6, 30),
        now=NOW,
        seed=seed,
        draw=lambda rng: days + rng.randint(0, 4),
    )


def waiting(organization, item) -> LicenseApplication:
    """An application of `organization` for `item`, accepted Mon 3 Nov 2025, under review."""
    return under_review(organization, ExporterFactory(organization=organization), item)


def p50_days(application: LicenseApplication) -> int:
    application.refresh_from_db()
    return working_days_after_start(application, application.expected_decision_p50)


def test_without_pooling_each_organization_gets_its_own_pace(dysprosium, clock):
    fast, slow = OrganizationFactory(name="Fast GmbH"), OrganizationFactory(name="Slow GmbH")
    decided_at_pace(fast, dysprosium, days=10, seed=1)
    decided_at_pace(slow, dysprosium, days=40, seed=2)
    fast_application, slow_application = waiting(fast, dysprosium), waiting(slow, dysprosium)

    refresh_forecasts()

    assert 10 <= p50_days(fast_application) <= 14
    assert 40 <= p50_days(slow_application) <= 44
    for application in (fast_application, slow_application):
        assert application.expected_decision_basis == "authority_item_destination"
        assert application.expected_decision_sample_size == DECISIONS  # its own decisions only
    assert not ForecastCurve.objects.filter(organization=None).exists()


@override_settings(SHARE_ANONYMOUS_STATS=True)
def test_a_pool_of_two_organizations_is_not_used(dysprosium, clock):
    """One other organization's 60 decisions would be enough history, but the window would
    show that organization's pace and volume: no pooled curve, the statutory deadline."""
    assert POOL_MIN_ORGANIZATIONS == 3
    mine, theirs = OrganizationFactory(name="Mine GmbH"), OrganizationFactory(name="Theirs AG")
    decided_at_pace(theirs, dysprosium, days=40, seed=2)
    decided_at_pace(mine, dysprosium, days=10, seed=1)
    application = waiting(mine, dysprosium)

    refresh_forecasts()

    application.refresh_from_db()
    assert application.expected_decision_basis == "statutory_deadline"
    assert application.expected_decision_sample_size == 0
    assert application.expected_decision_p50 == application.statutory_deadline
    assert not ForecastCurve.objects.exists()


@override_settings(SHARE_ANONYMOUS_STATS=True)
def test_a_pool_of_three_organizations_is_used(dysprosium, clock):
    organizations = [OrganizationFactory(name=f"Pool {n} GmbH") for n in range(3)]
    for seed, organization in enumerate(organizations):
        decided_at_pace(organization, dysprosium, days=20, seed=seed)
    application = waiting(organizations[0], dysprosium)

    refresh_forecasts()

    application.refresh_from_db()
    assert application.expected_decision_basis == "authority_item_destination"
    assert application.expected_decision_sample_size == 3 * DECISIONS
    assert 20 <= p50_days(application) <= 24
    assert set(ForecastCurve.objects.values_list("organization", flat=True)) == {None}


@override_settings(SHARE_ANONYMOUS_STATS=True)
def test_a_narrow_pooled_stratum_falls_back_to_the_next_level(dysprosium, terbium, clock):
    """Two organizations decided for dysprosium, a third only for terbium (same authority and
    material family): the item strata rest on two organizations and are left out; the
    material family, on three, answers, also after a status change (from the stored curves)."""
    first, second, third = (OrganizationFactory(name=f"Family {n} GmbH") for n in range(3))
    decided_at_pace(first, dysprosium, days=20, seed=1)
    decided_at_pace(second, dysprosium, days=20, seed=2)
    decided_at_pace(third, terbium, days=20, seed=3)
    application = waiting(first, dysprosium)

    refresh_forecasts()

    application.refresh_from_db()
    assert application.expected_decision_basis == "authority_material_family"
    assert application.expected_decision_sample_size == 3 * DECISIONS
    assert set(ForecastCurve.objects.values_list("level", flat=True)) == {
        "authority_material_family",
        "authority",
    }
    # A later application of the same organization gets its window from the stored curves.
    later = waiting(first, dysprosium)
    assert later.expected_decision_basis == "authority_material_family"
