"""The delay engine's at-risk rule reads the forecast's p90 when it rests on history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import override_settings

from licensing.models import AlertKind, DelayAlert, Shipment
from licensing.services.delays import delays_scan
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from licensing.tasks import refresh_forecasts
from tests.factories import TEST_ACTOR
from tests.forecast.conftest import NOW, under_review


def waiting_shipment(application, item, *, ship_date: dt.date) -> Shipment:
    return shipment_create(
        organization=application.organization,
        actor=TEST_ACTOR,
        external_reference="PO-7001",
        exporter=application.exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=ship_date,
        license_application=application,
        lines=[LineInput(item=item, quantity=Decimal(100), unit="kg")],
    )


def test_a_shipment_is_at_risk_when_p90_falls_after_its_ship_date_minus_the_buffer(
    organization, exporter, dysprosium, history
):
    """Accepted Mon 3 Nov 2025: the statutory deadline is 45 working days later, early January;
    the history's p90 is 69 working days, mid-February. A ship date ten days after the
    deadline plus the 5-day buffer is safe by the deadline, at risk by p90."""
    application = under_review(organization, exporter, dysprosium)
    ship_date = application.statutory_deadline + dt.timedelta(days=5 + 10)
    shipment = waiting_shipment(application, dysprosium, ship_date=ship_date)
    assert shipment.at_risk is False  # no curves yet: the statutory deadline decides

    refresh_forecasts()
    application.refresh_from_db()
    assert application.expected_decision_basis == "authority_item_destination"
    assert application.expected_decision_p90 > ship_date - dt.timedelta(days=5)
    delays_scan(now=NOW)  # the refresh marked the shipment due; the scan re-assesses it

    shipment.refresh_from_db()
    assert shipment.at_risk is True
    assert DelayAlert.objects.filter(shipment=shipment, kind=AlertKind.AT_RISK).exists()


@override_settings(FORECAST_MIN_SAMPLE=10_000)
def test_with_too_little_history_the_statutory_deadline_still_decides(
    organization, exporter, dysprosium, history
):
    application = under_review(organization, exporter, dysprosium)
    ship_date = application.statutory_deadline + dt.timedelta(days=5 + 10)
    shipment = waiting_shipment(application, dysprosium, ship_date=ship_date)

    refresh_forecasts()
    delays_scan(now=NOW)

    application.refresh_from_db()
    shipment.refresh_from_db()
    assert application.expected_decision_basis == "statutory_deadline"
    assert shipment.at_risk is False
