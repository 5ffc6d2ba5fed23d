"""Shipments: license coverage and depletion, uniqueness, and the shipping rules."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import (
    FieldErrors,
    InvalidTransition,
    LicenseNotValid,
    QuantityExceeded,
    StateConflict,
)
from licensing.models import (
    LicenseApplication,
    Shipment,
    ShipmentLine,
    ShipmentStatusChange,
    StatusChange,
)
from licensing.services import shipments as shipment_services
from licensing.services.applications import application_transition
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create, shipment_transition, shipment_update
from tests.factories import ExporterFactory, application_in_status

_references = itertools.count(1)


def ship(application, quantity, unit="kg", *, actor, item=None, reference=None, **overrides):
    """Create a shipment drawing `quantity` `unit` of the application's (first) item."""
    fields = {
        "external_reference": reference or f"PO-{next(_references):05d}",
        "exporter": application.exporter,
        "consignee_name": application.end_user_name,
        "consignee_country": application.destination_country,
        "destination_country": application.destination_country,
        "required_ship_date": timezone.localdate() + dt.timedelta(days=30),
        "license_application": application,
    } | overrides
    return shipment_create(
        organization=fields.pop("organization", application.organization),
        actor=actor,
        lines=[
            LineInput(
                item=item or application.lines.get().item,
                quantity=Decimal(quantity),
                unit=unit,
            )
        ],
        **fields,
    )


def approved_license(license_type="general", quantity="1000", unit="kg", **kwargs):
    return application_in_status(
        "approved",
        license_type=license_type,
        line__quantity=Decimal(quantity),
        line__unit=unit,
        **kwargs,
    )


# --- depletion ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_general_license_covers_shipments_until_its_quantity_is_depleted(dysprosium, actor):
    license_ = approved_license(quantity="1000", unit="kg", line__item=dysprosium)
    ship(license_, "400", actor=actor)
    ship(license_, "500", actor=actor)

    with pytest.raises(QuantityExceeded) as caught:
        ship(license_, "200", actor=actor, reference="PO-TOO-MUCH")
    assert caught.value.status == 422
    assert caught.value.detail == ("1C905: 100 kg remaining on the license, 200 kg requested.")
    assert caught.value.extra["shortfalls"] == [
        {"item": "1C905", "remaining": "100.000", "requested": "200", "unit": "kg"}
    ]
    assert not Shipment.objects.filter(external_reference="PO-TOO-MUCH").exists()

    ship(license_, "100", actor=actor)  # exactly the rest
    with pytest.raises(QuantityExceeded) as caught:
        ship(license_, "0.001", actor=actor)
    assert caught.value.detail == "1C905: 0 kg remaining on the license, 0.001 kg requested."
    assert Shipment.objects.filter(license_application=license_).count() == 3


@pytest.mark.django_db
def test_license_in_tonnes_is_drawn_by_shipments_in_kilograms_and_tonnes(dysprosium, actor):
    license_ = approved_license(quantity="1", unit="t", line__item=dysprosium)
    ship(license_, "400", "kg", actor=actor)
    ship(license_, "0.5", "t", actor=actor)

    with pytest.raises(QuantityExceeded) as caught:
        ship(license_, "150", "kg", actor=actor)
    assert caught.value.detail == "1C905: 0.1 t remaining on the license, 0.15 t requested."

    ship(license_, "100000", "g", actor=actor)  # 100 kg: exactly the rest
    with pytest.raises(QuantityExceeded):
        ship(license_, "1", "g", actor=actor)


@pytest.mark.django_db
def test_license_in_kilograms_covers_a_shipment_in_tonnes(dysprosium, actor):
    license_ = approved_license(quantity="1000", unit="kg", line__item=dysprosium)
    ship(license_, "1", "t", actor=actor)
    with pytest.raises(QuantityExceeded) as caught:
        ship(license_, "1", "g", actor=actor)
    assert caught.value.detail == "1C905: 0 kg remaining on the license, 0.001 kg requested."


@pytest.mark.django_db
def test_a_count_cannot_draw_on_a_mass(dysprosium, actor):
    license_ = approved_license(quantity="1000", unit="kg", line__item=dysprosium)
    with pytest.raises(FieldErrors) as caught:
        ship(license_, "10", "pcs", actor=actor)
    assert caught.value.errors == {
        "/lines/0/unit": ["The license counts this item in kg, not pcs."]
    }


@pytest.mark.django_db
def test_cancelled_shipment_releases_its_quantity(dysprosium, actor):
    license_ = approved_license(quantity="1000", unit="kg", line__item=dysprosium)
    first = ship(license_, "1000", actor=actor)
    with pytest.raises(QuantityExceeded):
        ship(license_, "1", actor=actor)

    shipment_transition(shipment=first, to_status="cancelled", actor=actor)

    second = ship(license_, "1000", actor=actor)
    assert Shipment.objects.get(pk=second.pk).license_application_id == license_.pk


@pytest.mark.django_db
def test_editing_a_shipment_does_not_count_its_own_quantity_twice(dysprosium, actor):
    license_ = approved_license(quantity="1000", unit="kg", line__item=dysprosium)
    shipment = ship(license_, "600", actor=actor)
    shipment_update(
        shipment=shipment,
        actor=actor,
        lines=[LineInput(item=dysprosium, quantity=Decimal(1000), unit="kg")],
    )
    assert ShipmentLine.objects.get(shipment=shipment).quantity == Decimal(1000)
    with pytest.raises(QuantityExceeded):
        shipment_update(
            shipment=shipment,
            actor=actor,
            lines=[LineInput(item=dysprosium, quantity=Decimal(1001), unit="kg")],
        )
    assert ShipmentLine.objects.get(shipment=shipment).quantity == Decimal(1000)


@pytest.mark.django_db
def test_single_license_covers_only_one_shipment(dysprosium, actor):
    license_ = approved_license("single", quantity="1000", line__item=dysprosium)
    first = ship(license_, "100", actor=actor, reference="PO-FIRST")
    with pytest.raises(LicenseNotValid) as caught:
        ship(license_, "100", actor=actor, reference="PO-SECOND")
    assert "single license covers one shipment" in caught.value.detail
    assert "PO-FIRST" in caught.value.detail
    assert not Shipment.objects.filter(external_reference="PO-SECOND").exists()

    # Once the first is cancelled, the license is free again.
    shipment_transition(shipment=first, to_status="cancelled", actor=actor)
    ship(license_, "100", actor=actor, reference="PO-SECOND")


@pytest.mark.django_db
def test_item_not_on_the_license_is_refused(dysprosium, terbium, actor):
    license_ = approved_license(quantity="1000", line__item=dysprosium)
    with pytest.raises(FieldErrors) as caught:
        ship(license_, "1", item=terbium, actor=actor)
    assert list(caught.value.errors) == ["/lines/0/item"]
    assert "1C904 is not on license application" in caught.value.errors["/lines/0/item"][0]
    assert not Shipment.objects.exists()


@pytest.mark.django_db
def test_shipment_of_another_exporter_is_refused(dysprosium, actor):
    license_ = approved_license(quantity="1000", line__item=dysprosium)
    other_exporter = ExporterFactory(organization=license_.organization)
    with pytest.raises(FieldErrors) as caught:
        ship(license_, "1", exporter=other_exporter, actor=actor)
    assert caught.value.errors == {
        "/license_application": ["The application is for another exporter."]
    }
    assert not Shipment.objects.exists()


@pytest.mark.django_db
def test_shipment_to_another_destination_is_refused(dysprosium, actor):
    license_ = approved_license(quantity="1000", line__item=dysprosium)  # destination DE
    with pytest.raises(FieldErrors) as caught:
        ship(license_, "1", destination_country="US", consignee_country="US", actor=actor)
    assert caught.value.errors == {
        "/license_application": ["The application is for destination DE, not US."]
    }
    assert not Shipment.objects.exists()


@pytest.mark.django_db
def test_another_organizations_license_is_not_found(dysprosium, other_organization, actor):
    license_ = approved_license(quantity="1000", line__item=dysprosium)
    exporter = ExporterFactory(organization=other_organization)
    with pytest.raises(FieldErrors) as caught:
        ship(license_, "1", organization=other_organization, exporter=exporter, actor=actor)
    assert caught.value.errors == {"/license_application": ["No such license application."]}


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["denied", "withdrawn", "revoked", "expired", "exhausted"])
def test_a_closed_application_covers_no_new_shipment(status, dysprosium, actor):
    application = application_in_status(status, line__item=dysprosium)
    with pytest.raises(LicenseNotValid) as caught:
        ship(application, "1", actor=actor)
    assert f"is '{status}' and covers no shipment" in caught.value.detail


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_two_concurrent_shipments_racing_for_the_last_quantity_exactly_one_wins(
    dysprosium, actor, monkeypatch
):
    license_ = approved_license(quantity="1000", unit="kg", line__item=dysprosium)
    original_check = shipment_services._check_coverage

    def slow_check(*args, **kwargs):
        original_check(*args, **kwargs)
        # The winner keeps the application locked a while: without the lock, the other
        # shipment would pass its own check meanwhile and both would be saved.
        time.sleep(0.3)

    monkeypatch.setattr(shipment_services, "_check_coverage", slow_check)
    barrier = threading.Barrier(2, timeout=10)
    outcomes: dict[str, object] = {}

    def create(reference: str) -> None:
        try:
            barrier.wait()
            ship(license_, "600", actor=actor, reference=reference)
            outcomes[reference] = "created"
        except Exception as error:  # the outcome is what the test checks
            outcomes[reference] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(ref,)) for ref in ("PO-RACE-A", "PO-RACE-B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    created = [ref for ref, outcome in outcomes.items() if outcome == "created"]
    refused = [outcome for outcome in outcomes.values() if outcome != "created"]
    assert len(created) == 1, outcomes
    assert len(refused) == 1 and isinstance(refused[0], QuantityExceeded), outcomes
    assert refused[0].detail == "1C905: 400 kg remaining on the license, 600 kg requested."
    assert (
        list(
            Shipment.objects.filter(license_application=license_).values_list(
                "external_reference", flat=True
            )
        )
        == created
    )


# --- uniqueness of the organization's own reference ------------------------------------------------


@pytest.mark.django_db
def test_external_reference_is_unique_per_organization(
    dysprosium, organization, other_organization, actor
):
    license_ = approved_license(quantity="1000", line__item=dysprosium, organization=organization)
    ship(license_, "1", reference="PO-4711", actor=actor)
    with pytest.raises(FieldErrors) as caught:
        ship(license_, "1", reference="PO-4711", actor=actor)
    assert caught.value.errors == {
        "/external_reference": ["A shipment with this external reference exists."]
    }
    assert Shipment.objects.filter(external_reference="PO-4711").count() == 1

    # Another organization keeps its own numbering.
    other_license = approved_license(
        quantity="1000", line__item=dysprosium, organization=other_organization
    )
    ship(other_license, "1", reference="PO-4711", actor=actor)
    assert Shipment.objects.filter(external_reference="PO-4711").count() == 2


# --- shipping needs an approved license valid on the ship date ------------------------------------


def _assert_still(shipment, status):
    assert Shipment.objects.get(pk=shipment.pk).status == status
    assert not ShipmentStatusChange.objects.filter(shipment=shipment, to_status__in=["shipped"])


@pytest.mark.django_db
def test_shipment_without_a_license_can_be_neither_licensed_nor_shipped(
    exporter, dysprosium, actor
):
    shipment = shipment_create(
        organization=exporter.organization,
        actor=actor,
        external_reference="PO-NOLICENSE",
        exporter=exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=timezone.localdate(),
        lines=[LineInput(item=dysprosium, quantity=Decimal(1), unit="kg")],
    )
    with pytest.raises(InvalidTransition) as caught:
        shipment_transition(shipment=shipment, to_status="shipped", actor=actor)
    assert caught.value.extra["allowed_transitions"] == ["licensed", "on_hold", "cancelled"]
    with pytest.raises(LicenseNotValid) as caught:
        shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    assert "No license application covers this shipment" in caught.value.detail
    assert Shipment.objects.get(pk=shipment.pk).status == "awaiting_license"
    assert not ShipmentStatusChange.objects.filter(shipment=shipment).exists()


@pytest.mark.django_db
def test_licensed_shipment_cannot_lose_its_license(dysprosium, actor):
    license_ = approved_license(quantity="1000", line__item=dysprosium)
    pending = application_in_status("under_review", line__item=dysprosium)
    shipment = ship(license_, "1", actor=actor)
    shipment_transition(shipment=shipment, to_status="licensed", actor=actor)

    for replacement in (None, pending):
        with pytest.raises(StateConflict) as caught:
            shipment_update(
                shipment=Shipment.objects.get(pk=shipment.pk),
                actor=actor,
                license_application=replacement,
            )
        assert "must stay covered by an approved license" in caught.value.detail
    stored = Shipment.objects.get(pk=shipment.pk)
    assert stored.status == "licensed"
    assert stored.license_application_id == license_.pk


@pytest.mark.django_db
def test_pending_license_cannot_license_a_shipment(dysprosium, actor):
    application = application_in_status("under_review", line__item=dysprosium)
    shipment = ship(application, "1", actor=actor)  # a pending application may be linked
    with pytest.raises(LicenseNotValid) as caught:
        shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    assert "is 'under_review', not 'approved'" in caught.value.detail
    assert Shipment.objects.get(pk=shipment.pk).status == "awaiting_license"


@pytest.mark.django_db
def test_revoked_license_cannot_ship_a_licensed_shipment(dysprosium, actor):
    license_ = approved_license(quantity="1000", line__item=dysprosium)
    shipment = ship(license_, "1", actor=actor)
    shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    application_transition(application=license_, to_status="revoked", actor=actor)

    with pytest.raises(LicenseNotValid) as caught:
        shipment_transition(shipment=shipment, to_status="shipped", actor=actor)
    assert "is 'revoked', not 'approved'" in caught.value.detail
    _assert_still(shipment, "licensed")


@pytest.mark.django_db
def test_expired_license_cannot_ship(dysprosium, actor):
    license_ = approved_license(
        quantity="1000",
        line__item=dysprosium,
        first_step_at=dt.datetime(2024, 11, 1, 2, 0, tzinfo=dt.UTC),
        approval={"valid_from": dt.date(2025, 1, 1), "valid_until": dt.date(2025, 6, 30)},
    )
    shipment = ship(license_, "1", actor=actor)
    shipment_transition(
        shipment=shipment,
        to_status="licensed",
        actor=actor,
        occurred_at=dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC),
    )
    today = timezone.localdate()
    with pytest.raises(LicenseNotValid) as caught:
        shipment_transition(shipment=shipment, to_status="shipped", actor=actor)
    assert caught.value.detail == (
        f"License LIC-2025-0001 is valid from 2025-01-01 to 2025-06-30, not on {today}."
    )
    with pytest.raises(LicenseNotValid):
        shipment_transition(
            shipment=shipment,
            to_status="shipped",
            actor=actor,
            occurred_at=dt.datetime(2025, 7, 1, 0, 0, tzinfo=dt.UTC),
        )
    _assert_still(shipment, "licensed")

    # On the last day of validity it may still ship.
    shipment_transition(
        shipment=shipment,
        to_status="shipped",
        actor=actor,
        occurred_at=dt.datetime(2025, 6, 30, 23, 59, tzinfo=dt.UTC),
    )
    stored = Shipment.objects.get(pk=shipment.pk)
    assert (stored.status, stored.shipped_on) == ("shipped", dt.date(2025, 6, 30))


@pytest.mark.django_db
def test_license_not_yet_valid_cannot_ship(dysprosium, actor):
    today = timezone.localdate()
    license_ = approved_license(
        quantity="1000",
        line__item=dysprosium,
        approval={
            "valid_from": today + dt.timedelta(days=10),
            "valid_until": today + dt.timedelta(days=375),
        },
    )
    shipment = ship(license_, "1", actor=actor)
    # Assigning a license that starts soon is fine; shipping before it starts is not.
    shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    with pytest.raises(LicenseNotValid) as caught:
        shipment_transition(shipment=shipment, to_status="shipped", actor=actor)
    assert f"is valid from {today + dt.timedelta(days=10)}" in caught.value.detail
    assert f"not on {today}" in caught.value.detail
    _assert_still(shipment, "licensed")


@pytest.mark.django_db
def test_shipping_under_a_single_license_exhausts_it(dysprosium, actor):
    license_ = approved_license("single", quantity="1000", line__item=dysprosium)
    shipment = ship(license_, "1000", actor=actor, reference="PO-SINGLE")
    shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    shipment_transition(shipment=shipment, to_status="shipped", actor=actor)

    stored = Shipment.objects.get(pk=shipment.pk)
    assert (stored.status, stored.shipped_on) == ("shipped", timezone.localdate())
    assert LicenseApplication.objects.get(pk=license_.pk).status == "exhausted"
    spent = StatusChange.objects.get(application=license_, to_status="exhausted")
    assert spent.from_status == "approved"
    assert spent.note == "Spent by shipment PO-SINGLE."
    # An exhausted license covers nothing more.
    with pytest.raises(LicenseNotValid):
        ship(license_, "1", actor=actor)


@pytest.mark.django_db
def test_shipping_under_a_general_license_keeps_it_approved(dysprosium, actor):
    license_ = approved_license("general", quantity="1000", line__item=dysprosium)
    shipment = ship(license_, "100", actor=actor)
    shipment_transition(shipment=shipment, to_status="licensed", actor=actor)
    shipment_transition(shipment=shipment, to_status="shipped", actor=actor)
    assert LicenseApplication.objects.get(pk=license_.pk).status == "approved"
    ship(license_, "900", actor=actor)
