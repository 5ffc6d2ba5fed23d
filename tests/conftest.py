"""Shared fixtures and the rules for tests that need real services.

- The suite runs on SQLite by default and on PostgreSQL when DATABASE_URL is set
  (config/settings/test.py reads it).
- `@pytest.mark.redis`: skipped with a reason when REDIS_URL is unset; with
  REQUIRE_SERVICES=1 (CI) it is never skipped and fails when Redis is missing or down.
- `postgres_only` fixture: for tests that need real row locks; skipped on SQLite, and a
  failure instead when REQUIRE_SERVICES=1.
See tests/service_gates.py.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

from core.actors import Actor
from core.calendars import WorkingCalendar
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicensingAuthorityFactory,
    OrganizationFactory,
)
from tests.pinned_clock import pinned_instant
from tests.service_gates import (  # noqa: F401  (hooks and fixtures register by name)
    _redis_marker_needs_redis,
    pytest_collection_modifyitems,
    redis_url,
    require_postgresql,
)

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pinned_clock(instant, tick=True): run the test at `instant` (a date means 10:00 in "
        "Beijing; see tests/pinned_clock.py), whatever day the suite runs on",
    )


@pytest.fixture(autouse=True)
def _pinned_clock(request: pytest.FixtureRequest):
    """Applies `@pytest.mark.pinned_clock(...)`: before any fixture builds data from "now"."""
    marker = request.node.get_closest_marker("pinned_clock")
    if marker is None:
        yield None
        return
    import time_machine

    instant = pinned_instant(marker.args[0])
    with time_machine.travel(instant, tick=marker.kwargs.get("tick", True)):
        yield instant


def pytest_report_header(config: pytest.Config) -> str:
    """Say on which day the suite believes it runs (TEST_TODAY, tests/pinned_clock.py)."""
    from django.utils import timezone

    pinned = os.environ.get("TEST_TODAY")
    now = timezone.now().isoformat(timespec="seconds")
    if pinned:
        return f"clock: pinned by TEST_TODAY={pinned} (now is {now})"
    return f"clock: real (now is {now}); set TEST_TODAY=YYYY-MM-DD to pin it"


# The calendar is built once per process; its first use may exceed hypothesis' default
# 200 ms deadline, which would make the property tests flaky rather than wrong.
# HYPOTHESIS_PROFILE=thorough runs 20 times as many examples, for a bug hunt.
hypothesis_settings.register_profile("suite", deadline=None, max_examples=100)
hypothesis_settings.register_profile(
    "thorough", parent=hypothesis_settings.get_profile("suite"), max_examples=2000
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture
def postgres_only(db) -> None:
    """Skip unless the test database is PostgreSQL (fail instead when REQUIRE_SERVICES=1)."""
    require_postgresql(connection.vendor)


@pytest.fixture
def actor() -> Actor:
    return Actor.system("tests")


@pytest.fixture
def staff_actor(django_user_model) -> Actor:
    user = django_user_model.objects.create_user(username="officer", password="unused-password")
    return Actor.for_user(user)


@pytest.fixture
def organization(db):
    return OrganizationFactory(name="Rheinland Motoren GmbH")


@pytest.fixture
def other_organization(db):
    return OrganizationFactory(name="Kansai Precision Tools K.K.")


@pytest.fixture
def mofcom(db):
    return LicensingAuthorityFactory(code="CN-MOFCOM")


@pytest.fixture
def us_bis(db):
    return LicensingAuthorityFactory(code="US-BIS")


@pytest.fixture
def dysprosium(mofcom):
    """1C905, dysprosium: installed by the reference-data migration."""
    return ControlledItemFactory(control_code="1C905", authority=mofcom)


@pytest.fixture
def terbium(mofcom):
    """1C904, terbium: installed by the reference-data migration."""
    return ControlledItemFactory(control_code="1C904", authority=mofcom)


@pytest.fixture
def exporter(organization):
    return ExporterFactory(organization=organization)


@pytest.fixture(scope="session")
def cn_calendar() -> WorkingCalendar:
    """China's official calendar for 2015-2029, without database exceptions (pure tests)."""
    return WorkingCalendar("CN", first_year=2015, last_year=2029)
