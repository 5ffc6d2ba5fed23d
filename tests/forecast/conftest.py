"""Fixtures of the forecast tests: a frozen clock, and a decided history with a known distribution.

The clock is frozen at Monday 10 November 2025, 10:00 in Beijing (as in tests/delays), so
that dates on China's calendar can be checked by hand.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from licensing.models import LicenseApplication
from tests.delays.conftest import FrozenClock, beijing
from tests.factories import LicenseApplicationFactory, walk_to_review
from tests.forecast.history import Built, build_history

NOW = beijing("2025-11-10")


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    frozen = FrozenClock(NOW)
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def history(organization, exporter, mofcom, dysprosium, clock) -> Built:
    """600 CN-MOFCOM applications for 1C905 to Germany, clocks started over 18 months before
    now, decided after Weibull(45, 2) working days (median 38, p90 69); the recent ones are
    still open."""
    return build_history(
        organization=organization,
        exporter=exporter,
        authority=mofcom,
        item=dysprosium,
        count=600,
        first_start=dt.date(2024, 5, 1),
        last_start=dt.date(2025, 10, 31),
        now=NOW,
        seed=2025,
    )


def under_review(
    organization, exporter, item, accepted_on: str = "2025-11-03", destination: str = "DE"
) -> LicenseApplication:
    """A CN-MOFCOM application accepted on `accepted_on` at 10:00 Beijing, under review, via the services."""
    application = LicenseApplicationFactory(
        organization=organization,
        exporter=exporter,
        authority=item.authority,
        destination_country=destination,
        end_user_country=destination,
        line__item=item,
    )
    accepted_at = beijing(accepted_on)
    walk_to_review(application, accepted_at)
    application.refresh_from_db()
    return application
