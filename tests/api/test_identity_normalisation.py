"""Identities as a reader sees them: exporters' registration numbers that only look different
are one exporter, look-alike letters of another script are refused, and digits are ASCII.

Unicode offers many spellings of one visible text (case, no-break spaces, zero-width
characters, full-width forms, Cyrillic letters shaped like Latin ones). A client must not get
a second exporter by picking another spelling, and a date or quantity is written in the
digits 0-9 only: other scripts' digits are refused, never silently read as numbers.
"""

from __future__ import annotations

import pytest

from licensing.models import Exporter
from tests.api.contract import assert_problem, pointers, table_counts
from tests.api.test_contract import application_body, shipment_body

EXPORTERS = "/api/v1/exporters/"
APPLICATIONS = "/api/v1/license-applications/"
SHIPMENTS = "/api/v1/shipments/"

pytestmark = [pytest.mark.django_db, pytest.mark.pinned_clock("2026-11-20")]


def _german_exporter(registration_number: str, name: str = "Hamburg Metals GmbH") -> dict:
    return {"name": name, "country": "DE", "registration_number": registration_number}


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("hrb 12345", id="lower-case"),
        pytest.param("HRB\u00a012345", id="no-break-space"),
        pytest.param("HRB 12345\u200b", id="zero-width-space"),
        pytest.param("HRB  12345", id="two-spaces"),
        pytest.param("\uff28\uff32\uff22 12345", id="full-width-letters"),
    ],
)
def test_a_registration_number_spelt_differently_is_the_existing_exporter(world, spelling):
    api = world.ours.api
    first = api.post(EXPORTERS, _german_exporter("HRB 12345"), format="json")
    assert first.status_code == 201, first.content
    counts = table_counts()

    response = api.post(EXPORTERS, _german_exporter(spelling, "Hamburg Metals"), format="json")

    problem = assert_problem(response, 400)
    assert pointers(problem) == {"/registration_number"}
    assert "An exporter with this country and registration number exists." in str(problem)
    assert table_counts() == counts
    assert Exporter.objects.get(pk=first.json()["id"]).registration_number == "HRB 12345"


def test_a_registration_number_with_a_look_alike_letter_of_another_script_is_refused(world):
    api = world.ours.api
    counts = table_counts()

    # U+041D is CYRILLIC CAPITAL LETTER EN, drawn like the Latin H.
    response = api.post(EXPORTERS, _german_exporter("\u041dRB 12345"), format="json")

    problem = assert_problem(response, 400)
    assert pointers(problem) == {"/registration_number"}
    assert "Mixes Cyrillic and Latin letters" in str(problem)
    assert table_counts() == counts


def test_an_update_cannot_take_another_exporters_number_in_another_spelling(world):
    api = world.ours.api
    assert api.post(EXPORTERS, _german_exporter("HRB 12345"), format="json").status_code == 201
    other = api.post(EXPORTERS, _german_exporter("HRB 99999", "Bremen Metals"), format="json")
    assert other.status_code == 201, other.content

    response = api.patch(
        f"{EXPORTERS}{other.json()['id']}/",
        {"registration_number": "hrb\u00a012345"},
        format="json",
        HTTP_IF_MATCH="*",
    )

    assert pointers(assert_problem(response, 400)) == {"/registration_number"}
    assert Exporter.objects.get(pk=other.json()["id"]).registration_number == "HRB 99999"


def test_the_same_number_may_belong_to_exporters_of_two_organizations(world):
    ours = world.ours.api.post(EXPORTERS, _german_exporter("HRB 12345"), format="json")
    theirs = world.theirs.api.post(EXPORTERS, _german_exporter("hrb 12345"), format="json")

    assert (ours.status_code, theirs.status_code) == (201, 201)


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        pytest.param(
            SHIPMENTS,
            lambda world: shipment_body(world, required_ship_date="\uff12\uff10\uff12\uff17-01-15"),
            "/required_ship_date",
            id="full-width-date",
        ),
        pytest.param(
            SHIPMENTS,
            lambda world: shipment_body(
                world, lines=[{"item": "1C905", "quantity": "\u0665", "unit": "kg"}]
            ),
            "/lines/0/quantity",
            id="arabic-indic-quantity",
        ),
        pytest.param(
            APPLICATIONS,
            lambda world: application_body(
                world,
                lines=[{"item": "1C905", "quantity": "1\uff10", "unit": "kg"}],
            ),
            "/lines/0/quantity",
            id="full-width-digit-in-a-quantity",
        ),
        pytest.param(
            APPLICATIONS,
            lambda world: application_body(
                world,
                lines=[
                    {"item": "1C905", "quantity": "10", "unit": "kg", "value": "\u0665"}
                    | {"currency": "USD"}
                ],
            ),
            "/lines/0/value",
            id="arabic-indic-value",
        ),
    ],
)
def test_digits_of_other_scripts_are_refused_in_dates_and_numbers(world, path, body, pointer):
    counts = table_counts()

    response = world.ours.api.post(path, body(world), format="json")

    problem = assert_problem(response, 400)
    assert pointer in pointers(problem), problem
    assert "digits 0-9" in str(problem)
    assert table_counts() == counts


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        pytest.param(
            EXPORTERS,
            "updated_since",
            "\uff12\uff10\uff12\uff15-01-01T00:00:00Z",
            id="full-width-updated-since",
        ),
        pytest.param(
            "/api/v1/alerts/",
            "raised_after",
            "2025-01-0\u0661T00:00:00Z",
            id="arabic-indic-raised-after",
        ),
        pytest.param(
            SHIPMENTS,
            "required_ship_date_after",
            "\uff12\uff10\uff12\uff15-01-01",
            id="full-width-ship-date-range",
        ),
    ],
)
def test_digits_of_other_scripts_are_refused_in_query_dates(world, path, parameter, value):
    response = world.ours.api.get(path, {parameter: value})

    problem = assert_problem(response, 400)
    assert "digits 0-9" in str(problem), problem


def test_searching_exporters_finds_a_registration_number_in_any_spelling(world):
    created = world.ours.api.post(EXPORTERS, _german_exporter("HRB 12345"), format="json")
    assert created.status_code == 201, created.content

    response = world.ours.api.get(EXPORTERS, {"search": "hrb\u00a012345\u200b"})

    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [created.json()["id"]]
