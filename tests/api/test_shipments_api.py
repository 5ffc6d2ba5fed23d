"""/api/v1/shipments/: shipments, the license that covers each, and their workflow over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.clock import application_clock
from licensing.models import Shipment, ShipmentLine, ShipmentStatusChange
from tests.api.test_applications_api import api_client, pointers, problem
from tests.factories import ControlledItemFactory, ExporterFactory, application_in_status

SHIPMENTS = "/api/v1/shipments/"
IN_A_MONTH = timezone.localdate() + dt.timedelta(days=30)


@pytest.fixture
def api(organization):
    return api_client(organization)


def approved_license(organization, exporter, item, quantity="1000", **kwargs):
    return application_in_status(
        "approved",
        organization=organization,
        exporter=exporter,
        license_type="general",
        line__item=item,
        line__quantity=Decimal(quantity),
        **kwargs,
    )


def shipment_body(exporter, /, reference="PO-4711", quantity="400", **overrides) -> dict:
    return {
        "external_reference": reference,
        "exporter": str(exporter.pk),
        "consignee": {"name": "Rheinland Motoren GmbH", "country": "DE"},
        "destination_country": "DE",
        "required_ship_date": IN_A_MONTH.isoformat(),
        "lines": [{"item": "1C905", "quantity": quantity, "unit": "kg"}],
    } | overrides


def create(api, exporter, /, **overrides) -> dict:
    response = api.post(SHIPMENTS, shipment_body(exporter, **overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def transition(api, shipment: dict, to: str, **fields):
    return api.post(f"{shipment['url']}transitions/", {"to": to, **fields}, format="json")


# --- create, read, update, delete -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_shipment_under_a_license_shows_the_license_in_brief(
    api, organization, exporter, dysprosium
):
    license_ = approved_license(organization, exporter, dysprosium)
    response = api.post(
        SHIPMENTS, shipment_body(exporter, license_application=str(license_.pk)), format="json"
    )

    assert response.status_code == 201, response.content
    assert response["ETag"] == '"1"'
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["status"] == "awaiting_license"
    assert body["consignee"] == {"name": "Rheinland Motoren GmbH", "country": "DE", "address": ""}
    assert body["lines"] == [{"item": "1C905", "quantity": "400.000", "unit": "kg"}]
    assert body["allowed_transitions"] == ["licensed", "on_hold", "cancelled"]
    assert body["license_application"] == str(license_.pk)
    assert body["license"] == {
        "id": str(license_.pk),
        "url": f"http://testserver/api/v1/license-applications/{license_.pk}/",
        "status": "approved",
        "license_number": "LIC-2025-0001",
        "valid_until": license_.valid_until.isoformat(),
        "statutory_deadline": application_clock(license_).statutory_deadline.isoformat(),
    }


@pytest.mark.django_db
def test_a_shipment_is_linked_to_its_license_later(api, organization, exporter, dysprosium):
    shipment = create(api, exporter)
    assert shipment["license"] is None and shipment["license_application"] is None

    license_ = approved_license(organization, exporter, dysprosium)
    response = api.patch(
        shipment["url"],
        {"license_application": str(license_.pk)},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    assert response.json()["license"]["id"] == str(license_.pk)
    assert response.json()["lines"] == shipment["lines"]


@pytest.mark.django_db
def test_a_shortfall_on_the_license_is_422_and_writes_nothing(
    api, organization, exporter, dysprosium
):
    license_ = approved_license(organization, exporter, dysprosium, quantity="1000")
    create(api, exporter, reference="PO-1", quantity="600", license_application=str(license_.pk))

    response = api.post(
        SHIPMENTS,
        shipment_body(
            exporter, reference="PO-2", quantity="500", license_application=str(license_.pk)
        ),
        format="json",
    )
    body = problem(response, 422)
    assert body["code"] == "quantity_exceeded"
    assert body["shortfalls"] == [
        {"item": "1C905", "remaining": "400.000", "requested": "500.000", "unit": "kg"}
    ]
    assert list(Shipment.objects.values_list("external_reference", flat=True)) == ["PO-1"]


@pytest.mark.django_db
def test_lines_are_replaced_whole(api, exporter, dysprosium, terbium):
    shipment = create(api, exporter)
    incomplete = api.patch(
        shipment["url"], {"lines": [{"item": "1C904"}]}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert pointers(problem(incomplete, 400)) == {"/lines/0/quantity", "/lines/0/unit"}

    response = api.patch(
        shipment["url"],
        {"lines": [{"item": "1C904", "quantity": "2", "unit": "t"}]},
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.json()["lines"] == [{"item": "1C904", "quantity": "2.000", "unit": "t"}]


@pytest.mark.django_db
def test_external_references_are_unique_in_the_organization(api, exporter, dysprosium):
    create(api, exporter, reference="PO-1")
    duplicate = api.post(SHIPMENTS, shipment_body(exporter, reference="PO-1"), format="json")
    assert pointers(problem(duplicate, 400)) == {"/external_reference"}
    assert Shipment.objects.count() == 1


@pytest.mark.django_db
def test_a_shipped_shipment_is_a_record(api, organization, exporter, dysprosium):
    license_ = approved_license(organization, exporter, dysprosium)
    shipment = create(api, exporter, license_application=str(license_.pk))
    transition(api, shipment, "licensed")
    etag = transition(api, shipment, "shipped")["ETag"]

    assert problem(api.delete(shipment["url"], HTTP_IF_MATCH=etag), 409)["code"] == "state_conflict"
    edit = api.patch(
        shipment["url"], {"required_ship_date": "2030-01-01"}, format="json", HTTP_IF_MATCH=etag
    )
    assert problem(edit, 409)["code"] == "state_conflict"

    other = create(api, exporter, reference="PO-DRAFT")
    assert api.delete(other["url"], HTTP_IF_MATCH='"1"').status_code == 204


# --- transitions --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_shipment_moves_through_its_workflow(api, organization, exporter, dysprosium):
    license_ = approved_license(organization, exporter, dysprosium)
    shipment = create(api, exporter, license_application=str(license_.pk))

    licensed = transition(api, shipment, "licensed", note="License in hand.")
    assert licensed.status_code == 201
    assert licensed["ETag"] == '"2"'
    shipped = transition(api, shipment, "shipped")
    assert shipped.status_code == 201
    assert shipped.json()["from_status"] == "licensed"

    body = api.get(shipment["url"]).json()
    assert body["status"] == "shipped"
    assert body["shipped_on"] == timezone.localdate().isoformat()
    assert body["allowed_transitions"] == ["delivered"]
    history = api.get(f"{shipment['url']}transitions/").json()["results"]
    assert [(row["from_status"], row["to_status"]) for row in history] == [
        ("awaiting_license", "licensed"),
        ("licensed", "shipped"),
    ]
    assert history[0]["note"] == "License in hand."


@pytest.mark.django_db
def test_a_forbidden_shipment_transition_is_409_and_lists_the_allowed_ones(
    api, exporter, dysprosium
):
    shipment = create(api, exporter)
    body = problem(transition(api, shipment, "delivered"), 409)
    assert body["code"] == "invalid_transition"
    assert body["allowed_transitions"] == ["licensed", "on_hold", "cancelled"]
    assert not ShipmentStatusChange.objects.exists()


@pytest.mark.django_db
def test_a_shipment_without_a_license_cannot_be_licensed(api, exporter, dysprosium):
    shipment = create(api, exporter)
    assert problem(transition(api, shipment, "licensed"), 422)["code"] == "license_not_valid"
    assert problem(transition(api, shipment, "teleported"), 400)["errors"][0]["pointer"] == "/to"


# --- tenancy ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_organizations_shipment_is_not_found(api, other_organization, dysprosium):
    their_exporter = ExporterFactory(organization=other_organization)
    theirs = Shipment.objects.create(
        organization=other_organization,
        external_reference="THEIRS-1",
        exporter=their_exporter,
        consignee_name="Kansai",
        consignee_country="JP",
        destination_country="JP",
        required_ship_date=IN_A_MONTH,
    )
    url = f"{SHIPMENTS}{theirs.pk}/"

    assert problem(api.get(url), 404)["code"] == "not_found"
    assert problem(
        api.patch(url, {"consignee": {"name": "x"}}, format="json", HTTP_IF_MATCH="*"), 404
    )
    assert problem(api.delete(url, HTTP_IF_MATCH="*"), 404)
    assert problem(api.get(f"{url}transitions/"), 404)
    assert problem(api.post(f"{url}transitions/", {"to": "cancelled"}, format="json"), 404)
    assert api.get(SHIPMENTS).json()["results"] == []
    theirs.refresh_from_db()
    assert (theirs.status, theirs.version) == ("awaiting_license", 1)


@pytest.mark.django_db
def test_another_organizations_license_and_exporter_are_not_found(
    api, other_organization, exporter, dysprosium
):
    their_exporter = ExporterFactory(organization=other_organization)
    their_license = approved_license(other_organization, their_exporter, dysprosium)

    response = api.post(
        SHIPMENTS,
        shipment_body(exporter, license_application=str(their_license.pk)),
        format="json",
    )
    body = problem(response, 400)
    assert body["errors"] == [
        {
            "pointer": "/license_application",
            "detail": f'No license application "{their_license.pk}" in your organization.',
            "code": "does_not_exist",
        }
    ]
    response = api.post(SHIPMENTS, shipment_body(their_exporter), format="json")
    assert pointers(problem(response, 400)) == {"/exporter"}
    assert not Shipment.objects.exists()


# --- hostile input --------------------------------------------------------------------------------


HOSTILE_BODIES = {
    "no lines": ({"lines": []}, "/lines"),
    "lines as a string": ({"lines": "1C905 400 kg"}, "/lines"),
    "quantity 1e400": ({"quantity": "1e400"}, "/lines/0/quantity"),
    "quantity 10**30": ({"quantity": 10**30}, "/lines/0/quantity"),
    "negative quantity": ({"quantity": "-1"}, "/lines/0/quantity"),
    "NUL in the reference": ({"reference": "PO-\x00"}, "/external_reference"),
    "huge reference": ({"reference": "P" * 101}, "/external_reference"),
    "consignee as a string": ({"consignee": "Rheinland"}, "/consignee"),
    "NUL in the nested consignee": (
        {"consignee": {"name": "R", "country": "DE", "address": "\x00"}},
        "/consignee/address",
    ),
    "impossible date": ({"required_ship_date": "2025-02-30"}, "/required_ship_date"),
    "license not a uuid": ({"license_application": "LIC-1"}, "/license_application"),
    "unknown license": (
        {"license_application": "00000000-0000-0000-0000-000000000000"},
        "/license_application",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_invalid_shipment_bodies_are_400_problems_and_write_nothing(
    api, exporter, dysprosium, case
):
    overrides, pointer = HOSTILE_BODIES[case]
    response = api.post(SHIPMENTS, shipment_body(exporter, **overrides), format="json")

    assert pointer in pointers(problem(response, 400))
    assert not Shipment.objects.exists()
    assert not ShipmentLine.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "status=awaiting_license&status=lost",
        "required_ship_date_after=soon",
        "required_ship_date_before=2025-13-01",
        "license_application=abc",
        "authority=" + "A" * 21,
        "ordering=status",
    ],
)
def test_invalid_shipment_filters_are_400_problems(api, query):
    problem(api.get(f"{SHIPMENTS}?{query}"), 400)


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_shipment_filters(api, organization, exporter, dysprosium, terbium, us_bis):
    ControlledItemFactory(control_code="TEST-GA-US", material_family="gallium", authority=us_bis)
    license_ = approved_license(organization, exporter, dysprosium, quantity="10000")
    early = create(
        api,
        exporter,
        reference="PO-EARLY",
        required_ship_date="2030-01-10",
        license_application=str(license_.pk),
        lines=[
            {"item": "1C905", "quantity": "1", "unit": "kg"},
            {"item": "1C905", "quantity": "2", "unit": "kg"},
        ],
    )
    late = create(
        api,
        exporter,
        reference="PO-LATE",
        required_ship_date="2030-03-10",
        lines=[{"item": "1C904", "quantity": "1", "unit": "kg"}],
    )
    us = create(
        api,
        exporter,
        reference="PO-US",
        destination_country="US",
        required_ship_date="2030-02-10",
        lines=[{"item": "TEST-GA-US", "quantity": "1", "unit": "kg"}],
    )
    api.post(f"{late['url']}transitions/", {"to": "on_hold"}, format="json")

    def references(query: str) -> list[str]:
        response = api.get(f"{SHIPMENTS}?{query}")
        assert response.status_code == 200, response.content
        return [row["external_reference"] for row in response.json()["results"]]

    assert references("ordering=required_ship_date") == ["PO-EARLY", "PO-US", "PO-LATE"]
    page = api.get(f"{SHIPMENTS}?ordering=-required_ship_date&page_size=2").json()
    rest = api.get(page["next"]).json()
    assert [row["external_reference"] for row in page["results"] + rest["results"]] == [
        "PO-LATE",
        "PO-US",
        "PO-EARLY",
    ]
    assert references(
        "required_ship_date_after=2030-02-01&required_ship_date_before=2030-02-28"
    ) == ["PO-US"]
    assert references("status=on_hold") == ["PO-LATE"]
    assert set(references("status=on_hold&status=awaiting_license")) == {
        "PO-EARLY",
        "PO-LATE",
        "PO-US",
    }
    assert references("item=1C905") == ["PO-EARLY"]  # two matching lines, one row
    assert references("material_family=gallium") == ["PO-US"]
    assert references("authority=US-BIS") == ["PO-US"]
    assert set(references("authority=CN-MOFCOM")) == {"PO-EARLY", "PO-LATE"}
    assert references("destination_country=US") == ["PO-US"]
    assert references("search=late") == ["PO-LATE"]
    assert references("search=LIC-2025") == ["PO-EARLY"]  # the license number
    assert references(f"license_application={license_.pk}") == ["PO-EARLY"]
    assert early["id"] != us["id"]


# --- queries ------------------------------------------------------------------------------------


def _queries_for_list(api, page_size: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(f"{SHIPMENTS}?page_size={page_size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(captured)


@pytest.mark.django_db
def test_the_shipment_list_runs_the_same_queries_for_5_rows_as_for_50(
    api, organization, exporter, dysprosium, terbium
):
    licenses = [
        approved_license(organization, exporter, dysprosium, quantity="100000") for _ in range(5)
    ]
    for index in range(50):
        linked = {"license_application": str(licenses[index % 5].pk)} if index % 2 else {}
        create(
            api,
            exporter,
            reference=f"PO-{index:03d}",
            quantity="10",
            lines=[
                {"item": "1C905", "quantity": "10", "unit": "kg"},
                *([] if linked else [{"item": "1C904", "quantity": "1", "unit": "kg"}]),
            ],
            **linked,
        )

    few, many = _queries_for_list(api, 5), _queries_for_list(api, 50)
    assert few == many
    # key, page (licenses joined), lines with items, licenses' status changes and clock
    # stops, the calendar exceptions
    assert many <= 6, many
