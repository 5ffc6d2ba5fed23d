"""/api/v1/license-applications/: what a procurement system sees over HTTP."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.models import ClockStop, LicenseApplication, StatusChange
from licensing.services.api_keys import api_key_create
from licensing.services.applications import clock_stop_record
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    application_in_status,
    walk_application,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

APPLICATIONS = "/api/v1/license-applications/"
PROBLEM = "application/problem+json"


def api_client(organization) -> APIClient:
    _, key = api_key_create(organization_name=organization.name, name="erp")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def api(organization) -> APIClient:
    return api_client(organization)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def pointers(body: dict) -> set[str]:
    return {error["pointer"] for error in body.get("errors", [])}


def application_body(exporter, /, **overrides) -> dict:
    return {
        "exporter": str(exporter.pk),
        "authority": "CN-MOFCOM",
        "license_type": "general",
        "end_user": {"name": "Rheinland Motoren GmbH", "country": "DE", "address": "Köln"},
        "end_use": "Manufacture of permanent-magnet motors.",
        "destination_country": "DE",
        "lines": [
            {
                "item": "1C905",
                "quantity": "1000",
                "unit": "kg",
                "value": "250000",
                "currency": "USD",
            }
        ],
    } | overrides


def create(api, exporter, /, **overrides) -> dict:
    response = api.post(APPLICATIONS, application_body(exporter, **overrides), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def transition(api, application: dict, to: str, **fields):
    return api.post(f"{application['url']}transitions/", {"to": to, **fields}, format="json")


# --- create, read, update, delete -----------------------------------------------------------------


@pytest.mark.django_db
def test_create_with_lines_answers_the_new_application(api, exporter, dysprosium, terbium):
    lines = [
        {"item": "1C905", "quantity": "1000", "unit": "kg", "value": "250000", "currency": "USD"},
        {"item": "1C904", "quantity": "0.5", "unit": "t"},
    ]
    response = api.post(APPLICATIONS, application_body(exporter, lines=lines), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == body["url"]
    assert response["ETag"] == '"1"'
    assert body["status"] == "draft"
    assert body["exporter"] == str(exporter.pk)
    assert body["authority"] == "CN-MOFCOM"
    assert body["end_user"] == {
        "name": "Rheinland Motoren GmbH",
        "country": "DE",
        "address": "Köln",
    }
    assert body["lines"] == [
        {
            "item": "1C905",
            "quantity": "1000.000",
            "unit": "kg",
            "value": "250000.00",
            "currency": "USD",
        },
        {"item": "1C904", "quantity": "0.500", "unit": "t", "value": None, "currency": ""},
    ]
    assert body["allowed_transitions"] == ["submitted", "withdrawn"]
    assert body["wait"] == {
        "elapsed": 0,
        "unit": "working_days",
        "clock_started_at": None,
        "paused_days": 0,
        "statutory_deadline": None,
        "is_running": False,
    }
    application = LicenseApplication.objects.get(pk=body["id"])
    assert application.end_user_address == "Köln"
    assert [line.item.control_code for line in application.lines.all()] == ["1C905", "1C904"]


@pytest.mark.django_db
def test_the_clock_counts_working_days_from_acceptance(api, exporter, dysprosium):
    application = create(api, exporter)
    submitted = transition(api, application, "submitted", occurred_at="2025-09-20T10:00:00+08:00")
    assert submitted.status_code == 201
    accepted = transition(
        api,
        application,
        "accepted",
        occurred_at="2025-09-26T10:00:00+08:00",
        authority_reference="MOFCOM-2025-0042",
    )
    assert accepted.status_code == 201

    body = api.get(application["url"]).json()
    assert body["status"] == "accepted"
    assert body["authority_reference"] == "MOFCOM-2025-0042"
    assert body["wait"]["clock_started_at"] == "2025-09-26T02:00:00Z"
    assert body["wait"]["is_running"] is True
    # The 45th working day on China's calendar after Friday 26 September 2025 (tests/test_clock.py).
    assert body["wait"]["statutory_deadline"] == "2025-12-04"


@pytest.mark.django_db
def test_update_needs_the_current_etag_in_if_match(api, exporter, dysprosium):
    application = create(api, exporter)
    change = {"end_use": "Servo motors."}

    assert problem(api.patch(application["url"], change, format="json"), 428)["code"] == (
        "precondition_required"
    )
    stale = api.patch(application["url"], change, format="json", HTTP_IF_MATCH='"7"')
    assert problem(stale, 412)["code"] == "precondition_failed"

    response = api.patch(application["url"], change, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert response.json()["end_use"] == "Servo motors."
    assert response.json()["lines"][0]["item"] == "1C905"  # untouched by the PATCH


@pytest.mark.django_db
def test_lines_and_the_nested_end_user_are_replaced_in_draft(api, exporter, dysprosium, terbium):
    application = create(api, exporter)
    response = api.patch(
        application["url"],
        {
            "end_user": {"name": "Kansai Precision Tools K.K."},
            "lines": [{"item": "1C904", "quantity": "12.345", "unit": "kg"}],
        },
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["end_user"] == {
        "name": "Kansai Precision Tools K.K.",
        "country": "DE",
        "address": "Köln",
    }
    assert [line["item"] for line in body["lines"]] == ["1C904"]


@pytest.mark.django_db
def test_each_line_of_a_patch_is_complete(api, exporter, dysprosium):
    application = create(api, exporter)
    response = api.patch(
        application["url"], {"lines": [{"item": "1C905"}]}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert pointers(problem(response, 400)) == {"/lines/0/quantity", "/lines/0/unit"}
    assert LicenseApplication.objects.get(pk=application["id"]).lines.count() == 1


@pytest.mark.django_db
def test_after_submission_only_the_review_facts_change(api, exporter, dysprosium):
    application = create(api, exporter)
    submitted = transition(api, application, "submitted")
    etag = submitted["ETag"]

    refused = api.patch(
        application["url"], {"end_use": "Other."}, format="json", HTTP_IF_MATCH=etag
    )
    assert problem(refused, 409)["code"] == "state_conflict"

    # A PUT of the whole representation repeats the draft fields unchanged: only the flags change.
    current = api.get(application["url"]).json()
    current.update(is_escalated=True, authority_reference="MOFCOM-2025-0007")
    response = api.put(application["url"], current, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    assert response.json()["is_escalated"] is True
    assert response.json()["authority_reference"] == "MOFCOM-2025-0007"
    assert response.json()["status"] == "submitted"


@pytest.mark.django_db
def test_only_a_draft_can_be_deleted(api, exporter, dysprosium):
    draft = create(api, exporter)
    assert api.delete(draft["url"], HTTP_IF_MATCH='"1"').status_code == 204
    assert not LicenseApplication.objects.filter(pk=draft["id"]).exists()

    submitted = create(api, exporter)
    etag = transition(api, submitted, "submitted")["ETag"]
    refused = problem(api.delete(submitted["url"], HTTP_IF_MATCH=etag), 409)
    assert refused["code"] == "state_conflict"
    assert "Withdraw it instead" in refused["detail"]


# --- transitions --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_transition_answers_the_status_change_and_the_new_etag(api, exporter, dysprosium):
    application = create(api, exporter)
    response = transition(api, application, "submitted", note="Filed by the supplier.")

    assert response.status_code == 201
    assert response["ETag"] == '"2"'
    change = response.json()
    assert change["from_status"] == "draft"
    assert change["to_status"] == "submitted"
    assert change["note"] == "Filed by the supplier."
    assert change["actor"].startswith("api-key:erp")
    assert change["request_id"] == response["X-Request-ID"]

    history = api.get(f"{application['url']}transitions/")
    assert history.status_code == 200
    assert history["ETag"] == '"2"'
    assert [row["id"] for row in history.json()["results"]] == [change["id"]]
    assert api.get(application["url"]).json()["allowed_transitions"] == ["accepted", "withdrawn"]


@pytest.mark.django_db
def test_a_forbidden_transition_is_409_and_lists_the_allowed_ones(api, exporter, dysprosium):
    application = create(api, exporter)
    body = problem(transition(api, application, "approved"), 409)

    assert body["code"] == "invalid_transition"
    assert body["current_status"] == "draft"
    assert body["allowed_transitions"] == ["submitted", "withdrawn"]
    assert not StatusChange.objects.exists()


@pytest.mark.django_db
def test_transition_fields_are_checked(api, exporter, dysprosium):
    application = create(api, exporter)
    assert pointers(problem(transition(api, application, "shelved"), 400)) == {"/to"}
    naive = transition(api, application, "submitted", occurred_at="2025-10-09T10:00:00")
    assert pointers(problem(naive, 400)) == {"/occurred_at"}
    future = (timezone.now() + dt.timedelta(days=2)).isoformat()
    assert (
        "future"
        in problem(transition(api, application, "submitted", occurred_at=future), 400)["detail"]
    )
    assert transition(api, application, "submitted").status_code == 201
    no_reference = problem(transition(api, application, "accepted"), 400)
    assert pointers(no_reference) == {"/authority_reference"}
    assert StatusChange.objects.count() == 1


@pytest.mark.django_db
def test_a_stale_if_match_on_a_transition_is_refused(api, exporter, dysprosium):
    application = create(api, exporter)
    stale = api.post(
        f"{application['url']}transitions/", {"to": "submitted"}, format="json", HTTP_IF_MATCH='"9"'
    )
    assert problem(stale, 412)["code"] == "precondition_failed"
    fresh = api.post(
        f"{application['url']}transitions/", {"to": "submitted"}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert fresh.status_code == 201
    # If-Match is optional here: a blank one counts as none.
    blank = api.post(
        f"{application['url']}transitions/", {"to": "withdrawn"}, format="json", HTTP_IF_MATCH=""
    )
    assert blank.status_code == 201


@pytest.mark.django_db
def test_a_transition_repeated_with_its_idempotency_key_is_replayed(api, exporter, dysprosium):
    application = create(api, exporter)
    url = f"{application['url']}transitions/"
    first = api.post(url, {"to": "submitted"}, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")
    again = api.post(url, {"to": "submitted"}, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true"
    assert StatusChange.objects.count() == 1


# --- clock stops --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_clock_stops_are_recorded_listed_and_closed(api, organization, exporter):
    application = application_in_status(
        "under_review", organization=organization, exporter=exporter
    )
    url = f"{APPLICATIONS}{application.pk}/clock-stops/"
    started_on = timezone.localdate() - dt.timedelta(days=10)

    response = api.post(
        url, {"kind": "expert_review", "started_on": started_on.isoformat()}, format="json"
    )
    assert response.status_code == 201, response.content
    stop = response.json()
    assert stop["ended_on"] is None
    assert api.get(url).json()["results"] == [stop]
    assert api.get(f"{APPLICATIONS}{application.pk}/").json()["wait"]["paused_days"] > 0

    ended_on = (started_on + dt.timedelta(days=3)).isoformat()
    closed = api.patch(f"{url}{stop['id']}/", {"ended_on": ended_on}, format="json")
    assert closed.status_code == 200
    assert closed.json()["ended_on"] == ended_on
    again = api.patch(f"{url}{stop['id']}/", {"ended_on": ended_on}, format="json")
    assert problem(again, 409)["code"] == "state_conflict"

    assert pointers(
        problem(api.post(url, {"kind": "lunch", "started_on": "x"}, format="json"), 400)
    ) == {
        "/kind",
        "/started_on",
    }


@pytest.mark.django_db
@pytest.mark.pinned_clock("2026-11-20")
def test_a_clock_stop_must_lie_between_the_clock_start_and_today(api, organization, exporter):
    # Accepted (the clock starts) on 2 October 2026, Beijing; today is 20 November there.
    application = application_in_status(
        "under_review",
        organization=organization,
        exporter=exporter,
        first_step_at=dt.datetime(2026, 10, 1, 2, tzinfo=dt.UTC),
    )
    url = f"{APPLICATIONS}{application.pk}/clock-stops/"
    clock_start = timezone.localtime(application.clock_started_at, SHANGHAI).date()
    refused = [
        ("0001-01-01", "9999-12-31", {"/started_on", "/ended_on"}),
        (str(clock_start - dt.timedelta(days=1)), None, {"/started_on"}),
        ("2026-11-21", None, {"/started_on"}),
        ("2026-11-18", "2026-11-21", {"/ended_on"}),
        ("2026-11-18", "2026-11-17", {"/ended_on"}),
    ]
    for started_on, ended_on, wrong in refused:
        body = {"kind": "expert_review", "started_on": started_on}
        if ended_on:
            body["ended_on"] = ended_on
        assert pointers(problem(api.post(url, body, format="json"), 400)) == wrong, body
    assert not ClockStop.objects.exists()

    whole = {"kind": "expert_review", "started_on": str(clock_start), "ended_on": "2026-11-20"}
    assert api.post(url, whole, format="json").status_code == 201
    open_stop = api.post(
        url, {"kind": "onsite_verification", "started_on": "2026-11-19"}, format="json"
    )
    assert open_stop.status_code == 201
    close = f"{url}{open_stop.json()['id']}/"
    for ended_on in ("9999-12-31", "2026-11-21", "2026-11-18"):
        response = api.patch(close, {"ended_on": ended_on}, format="json")
        assert pointers(problem(response, 400)) == {"/ended_on"}
    assert ClockStop.objects.get(pk=open_stop.json()["id"]).ended_on is None
    assert api.patch(close, {"ended_on": "2026-11-20"}, format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.pinned_clock("2026-11-20")
def test_a_clock_stop_open_at_the_decision_ends_by_the_decision(api, organization, exporter, actor):
    application = application_in_status(
        "under_review",
        organization=organization,
        exporter=exporter,
        first_step_at=dt.datetime(2026, 10, 1, 2, tzinfo=dt.UTC),
    )
    stop = clock_stop_record(
        application=application, kind="expert_review", started_on=dt.date(2026, 11, 2), actor=actor
    )
    walk_application(application, [("approved", dt.datetime(2026, 11, 10, 2, tzinfo=dt.UTC))])
    url = f"{APPLICATIONS}{application.pk}/clock-stops/{stop.pk}/"

    response = api.patch(url, {"ended_on": "2026-11-12"}, format="json")

    assert pointers(problem(response, 400)) == {"/ended_on"}
    assert "2026-11-10 (the decision)" in problem(response, 400)["errors"][0]["detail"]
    assert api.patch(url, {"ended_on": "2026-11-10"}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_clock_stop_of_another_application_is_not_found(api, organization, exporter, actor):
    application = application_in_status(
        "under_review", organization=organization, exporter=exporter
    )
    other = application_in_status("under_review", organization=organization, exporter=exporter)
    stop = clock_stop_record(
        application=other, kind="expert_review", started_on=timezone.localdate(), actor=actor
    )
    url = f"{APPLICATIONS}{application.pk}/clock-stops/{stop.pk}/"
    assert problem(api.patch(url, {"ended_on": "2030-01-01"}, format="json"), 404)
    assert ClockStop.objects.get(pk=stop.pk).ended_on is None


# --- tenancy ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_organizations_application_is_not_found(api, other_organization, exporter):
    theirs = application_in_status("submitted", organization=other_organization)
    url = f"{APPLICATIONS}{theirs.pk}/"

    assert problem(api.get(url), 404)["code"] == "not_found"
    assert problem(api.patch(url, {"end_use": "x"}, format="json", HTTP_IF_MATCH="*"), 404)
    assert problem(api.delete(url, HTTP_IF_MATCH="*"), 404)
    assert problem(api.get(f"{url}transitions/"), 404)
    assert problem(api.post(f"{url}transitions/", {"to": "withdrawn"}, format="json"), 404)
    assert problem(api.get(f"{url}clock-stops/"), 404)
    assert api.get(APPLICATIONS).json()["results"] == []
    theirs.refresh_from_db()
    assert theirs.status == "submitted"


@pytest.mark.django_db
def test_another_organizations_exporter_is_no_such_exporter(api, other_organization, dysprosium):
    theirs = ExporterFactory(organization=other_organization)
    response = api.post(APPLICATIONS, application_body(theirs), format="json")

    body = problem(response, 400)
    assert body["errors"] == [
        {
            "pointer": "/exporter",
            "detail": f'No exporter "{theirs.pk}" in your organization.',
            "code": "does_not_exist",
        }
    ]
    assert not LicenseApplication.objects.exists()


@pytest.mark.django_db
def test_a_read_only_key_cannot_write(organization, exporter, dysprosium):
    _, key = api_key_create(organization_name=organization.name, name="bi", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get(APPLICATIONS).status_code == 200
    assert problem(client.post(APPLICATIONS, application_body(exporter), format="json"), 403)


# --- hostile input --------------------------------------------------------------------------------


def _line(**fields) -> dict:
    return {"lines": [{"item": "1C905", "quantity": "1000", "unit": "kg"} | fields]}


HOSTILE_BODIES = {
    "lines as a string": ({"lines": "1C905"}, "/lines"),
    "a line as a string": ({"lines": ["1C905"]}, "/lines/0"),
    "quantity abc": (_line(quantity="abc"), "/lines/0/quantity"),
    "quantity 1e400": (_line(quantity="1e400"), "/lines/0/quantity"),
    "quantity 10**30": (_line(quantity=10**30), "/lines/0/quantity"),
    "quantity negative": (_line(quantity="-5"), "/lines/0/quantity"),
    "quantity zero": (_line(quantity=0), "/lines/0/quantity"),
    "quantity with 4 decimals": (_line(quantity="0.0001"), "/lines/0/quantity"),
    "quantity NaN": (_line(quantity="NaN"), "/lines/0/quantity"),
    "unknown unit": (_line(unit="lb"), "/lines/0/unit"),
    "unknown item": (_line(item="9Z999"), "/lines/0/item"),
    "item with NUL": (_line(item="1C9\x0005"), "/lines/0/item"),
    "item as an object": (_line(item={"code": "1C905"}), "/lines/0/item"),
    "item too long": (_line(item="1" * 5000), "/lines/0/item"),
    "currency in lower case": (_line(value="10", currency="usd"), "/lines/0/currency"),
    "value without currency": (_line(value="10"), "/lines/0/currency"),
    "too many lines": ({"lines": _line()["lines"] * 201}, "/lines"),
    "unknown license type": ({"license_type": "forever"}, "/license_type"),
    "unknown authority": ({"authority": "XX-NOBODY"}, "/authority"),
    "authority with NUL": ({"authority": "CN-\x00"}, "/authority"),
    "NUL in end_use": ({"end_use": "motors\x00"}, "/end_use"),
    "huge end_use": ({"end_use": "m" * 20_000}, "/end_use"),
    "NUL in the nested end user": (
        {"end_user": {"name": "Rheinland\x00", "country": "DE"}},
        "/end_user/name",
    ),
    "end user as a string": ({"end_user": "Rheinland"}, "/end_user"),
    "unknown country": ({"destination_country": "XX"}, "/destination_country"),
    "country as a list": ({"end_user": {"name": "R", "country": ["DE"]}}, "/end_user/country"),
    "exporter not a uuid": ({"exporter": "exporter-1"}, "/exporter"),
    "unknown exporter": ({"exporter": "00000000-0000-0000-0000-000000000000"}, "/exporter"),
    "flag not a boolean": ({"is_escalated": "perhaps"}, "/is_escalated"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_invalid_bodies_are_400_problems_and_write_nothing(api, exporter, dysprosium, case):
    overrides, pointer = HOSTILE_BODIES[case]
    response = api.post(APPLICATIONS, application_body(exporter, **overrides), format="json")

    body = problem(response, 400)
    assert pointer in pointers(body)
    assert not LicenseApplication.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"[]",
        b'{"lines": 1e400}',
        b"\xff\xfe",
        b'{"license_type": "\\ud800"}',  # a lone surrogate: the error must not repeat it
    ],
)
def test_malformed_json_is_a_400_problem(api, raw):
    response = api.generic("POST", APPLICATIONS, raw, content_type="application/json")
    problem(response, 400)
    assert not LicenseApplication.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "status=submitted&status=shelved",
        "exporter=not-a-uuid",
        "updated_since=yesterday",
        "updated_since=9999-12-31T23:59:59-12:00",
        "material_family=unobtainium",
        "destination_country=XX",
        "item=" + "1" * 31,
        "search=" + "s" * 201,
        "ordering=clock_started_at",
    ],
)
def test_invalid_filters_are_400_problems(api, query):
    problem(api.get(f"{APPLICATIONS}?{query}"), 400)


# --- filters ------------------------------------------------------------------------------------


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.django_db
def test_filters(api, organization, exporter, dysprosium, terbium):
    gallium = ControlledItemFactory(control_code="TEST-GA", material_family="gallium")
    other_exporter = ExporterFactory(organization=organization, name="Jiangxi Tungsten Works")
    both_lines = LicenseApplicationFactory(
        organization=organization, exporter=exporter, line__item=dysprosium
    )
    both_lines.lines.create(item=dysprosium, quantity=5, unit="kg", position=1)
    submitted = application_in_status(
        "submitted", organization=organization, exporter=other_exporter, line__item=terbium
    )
    accepted = application_in_status(
        "accepted",
        organization=organization,
        exporter=exporter,
        line__item=gallium,
        destination_country="JP",
    )

    def ids(query: str) -> set[str]:
        return _ids(api.get(f"{APPLICATIONS}?{query}"))

    assert ids("status=submitted&status=accepted") == {str(submitted.pk), str(accepted.pk)}
    assert ids("status=draft") == {str(both_lines.pk)}
    # Two matching lines, one row: the item filters use EXISTS, not a join.
    assert api.get(f"{APPLICATIONS}?item=1C905").json()["results"][0]["id"] == str(both_lines.pk)
    assert len(api.get(f"{APPLICATIONS}?item=1C905").json()["results"]) == 1
    assert ids("material_family=gallium") == {str(accepted.pk)}
    assert ids("material_family=rare_earth") == {str(both_lines.pk), str(submitted.pk)}
    assert ids(f"exporter={other_exporter.pk}") == {str(submitted.pk)}
    assert ids("authority=CN-MOFCOM") == {str(both_lines.pk), str(submitted.pk), str(accepted.pk)}
    assert ids("authority=US-BIS") == set()
    assert ids("destination_country=JP") == {str(accepted.pk)}
    assert ids("search=tungsten") == {str(submitted.pk)}
    assert ids("search=MOFCOM-2025") == {str(accepted.pk)}  # its authority_reference
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"updated_since={future}") == set()


@pytest.mark.django_db
def test_the_list_pages_with_a_cursor(api, organization, exporter):
    created = [
        LicenseApplicationFactory(organization=organization, exporter=exporter) for _ in range(3)
    ]
    first = api.get(f"{APPLICATIONS}?page_size=2&ordering=created_at").json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == [
        str(application.pk) for application in created
    ]
    assert second["next"] is None


# --- queries ------------------------------------------------------------------------------------


def _queries_for_list(api, page_size: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(f"{APPLICATIONS}?page_size={page_size}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    return len(captured)


@pytest.mark.django_db
def test_the_list_runs_the_same_queries_for_5_rows_as_for_50(api, organization, exporter, actor):
    for index in range(50):
        if index % 2:
            application = application_in_status(
                "under_review", organization=organization, exporter=exporter
            )
            clock_stop_record(
                application=application,
                kind="technical_identification",
                started_on=timezone.localdate() - dt.timedelta(days=3),
                actor=actor,
            )
        else:
            application = LicenseApplicationFactory(organization=organization, exporter=exporter)
            application.lines.create(
                item=application.lines.get().item, quantity=1, unit="kg", position=1
            )

    few, many = _queries_for_list(api, 5), _queries_for_list(api, 50)
    assert few == many
    # key, page, lines with items, status changes, clock stops, the calendar exceptions
    assert many <= 6, many
