"""/api/v1/threshold-rules/, /api/v1/alerts/ and the delay state in applications and shipments."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from licensing.models.delays import AlertKind, DelayAlert, ThresholdRule
from licensing.services.api_keys import api_key_create
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create
from licensing.services.threshold_rules import LevelInput, threshold_rule_create
from tests.api.test_applications_api import api_client, pointers, problem
from tests.delays.conftest import accepted_application, beijing, scan
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    walk_application,
)

RULES = "/api/v1/threshold-rules/"
ALERTS = "/api/v1/alerts/"
APPLICATIONS = "/api/v1/license-applications/"
SHIPMENTS = "/api/v1/shipments/"
_references = itertools.count(1)


@pytest.fixture
def api(organization) -> APIClient:
    return api_client(organization)


@pytest.fixture
def read_only_api(organization) -> APIClient:
    _, key = api_key_create(organization_name=organization.name, name="bi", read_only=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def rule_body(**overrides) -> dict:
    return {
        "name": "Magnets to Germany: tighter",
        "authority": "CN-MOFCOM",
        "destination_country": "DE",
        "material_family": "rare_earth",
        "levels": [
            {"level": "warning", "after": 20},
            {"level": "critical", "after": 30, "unit": "working_days"},
            {"level": "overdue", "at_statutory_deadline": True},
        ],
        "repeat_every": 5,
        "lead_buffer_days": 10,
    } | overrides


def by_level(levels: list[dict]) -> dict[str, dict]:
    return {level["level"]: level for level in levels}


def make_shipment(application=None, *, organization, exporter, item, ship_date, actor):
    shipment = shipment_create(
        organization=organization,
        actor=actor,
        lines=[LineInput(item=item, quantity=Decimal("5"), unit="kg")],
        external_reference=f"PO-API-{next(_references):03d}",
        exporter=exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=ship_date,
        license_application=application,
    )
    shipment.refresh_from_db()
    return shipment


# --- threshold rules --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rule_is_created_read_updated_with_if_match_and_deleted(api, organization, mofcom):
    response = api.post(RULES, rule_body(), format="json")

    assert response.status_code == 201, response.content
    assert response["ETag"] == '"1"'
    rule = response.json()
    assert response["Location"] == rule["url"]
    assert rule["is_default"] is False
    assert rule["authority"] == "CN-MOFCOM"
    assert (rule["destination_country"], rule["material_family"]) == ("DE", "rare_earth")
    assert (rule["repeat_every"], rule["repeat_unit"], rule["lead_buffer_days"]) == (
        5,
        "working_days",
        10,
    )
    assert rule["expiry_warning_days"] == 30
    assert by_level(rule["levels"]) == {
        "warning": {
            "level": "warning",
            "after": 20,
            "unit": "working_days",
            "at_statutory_deadline": False,
        },
        "critical": {
            "level": "critical",
            "after": 30,
            "unit": "working_days",
            "at_statutory_deadline": False,
        },
        "overdue": {
            "level": "overdue",
            "after": None,
            "unit": "working_days",
            "at_statutory_deadline": True,
        },
    }
    assert ThresholdRule.objects.get(pk=rule["id"]).organization == organization
    assert api.get(rule["url"]).json() == rule

    change = {"levels": [{"level": "warning", "after": 25}], "is_active": False}
    assert problem(api.patch(rule["url"], change, format="json"), 428)["code"] == (
        "precondition_required"
    )
    assert problem(api.patch(rule["url"], change, format="json", HTTP_IF_MATCH='"7"'), 412)
    updated = api.patch(rule["url"], change, format="json", HTTP_IF_MATCH='"1"')
    assert updated.status_code == 200, updated.content
    assert updated["ETag"] == '"2"'
    assert updated.json()["levels"] == [
        {"level": "warning", "after": 25, "unit": "working_days", "at_statutory_deadline": False}
    ]
    assert updated.json()["is_active"] is False
    assert updated.json()["name"] == rule["name"]  # untouched by the PATCH

    assert problem(api.delete(rule["url"]), 428)
    assert problem(api.delete(rule["url"], HTTP_IF_MATCH='"1"'), 412)
    assert api.delete(rule["url"], HTTP_IF_MATCH='"2"').status_code == 204
    assert not ThresholdRule.objects.filter(pk=rule["id"]).exists()


@pytest.mark.django_db
def test_the_defaults_are_listed_read_only_and_other_organizations_rules_not_at_all(
    api, organization, other_organization, actor, mofcom
):
    ours = api.post(RULES, rule_body(), format="json").json()
    theirs = threshold_rule_create(
        organization=other_organization, levels=[LevelInput("warning", 1)], actor=actor, name="x"
    )

    listed = api.get(f"{RULES}?page_size=50").json()["results"]
    defaults = ThresholdRule.objects.filter(organization=None)
    assert {row["id"] for row in listed} == {ours["id"], *(str(rule.pk) for rule in defaults)}
    assert {row["id"]: row["is_default"] for row in listed} == {
        ours["id"]: False,
        **{str(rule.pk): True for rule in defaults},
    }

    default = defaults.get(authority=None)
    url = f"{RULES}{default.pk}/"
    assert api.get(url).json()["is_default"] is True
    assert problem(api.patch(url, {"name": "mine now"}, format="json", HTTP_IF_MATCH="*"), 404)
    assert problem(api.put(url, rule_body(), format="json", HTTP_IF_MATCH="*"), 404)
    assert problem(api.delete(url, HTTP_IF_MATCH="*"), 404)
    default.refresh_from_db()
    assert (default.name, default.version) == (
        "Default: warning at 30, critical at 40 working days, overdue at the deadline",
        1,
    )

    their_url = f"{RULES}{theirs.pk}/"
    assert problem(api.get(their_url), 404)
    assert problem(api.delete(their_url, HTTP_IF_MATCH="*"), 404)
    assert ThresholdRule.objects.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
def test_a_read_only_key_reads_rules_but_cannot_write_them(read_only_api, api, mofcom):
    rule = api.post(RULES, rule_body(), format="json").json()
    assert read_only_api.get(RULES).status_code == 200
    assert read_only_api.get(rule["url"]).status_code == 200
    assert problem(read_only_api.post(RULES, rule_body(name="other"), format="json"), 403)
    assert problem(
        read_only_api.patch(rule["url"], {"name": "x"}, format="json", HTTP_IF_MATCH='"1"'), 403
    )
    assert problem(read_only_api.delete(rule["url"], HTTP_IF_MATCH='"1"'), 403)
    assert ThresholdRule.objects.filter(organization__isnull=False).count() == 1


LEVEL_ERRORS = {
    "no levels": ([], {"/levels"}),
    "levels as an object": ({"level": "warning"}, {"/levels"}),
    "a level given twice": (
        [{"level": "warning", "after": 10}, {"level": "warning", "after": 20}],
        {"/levels/1/level"},
    ),
    "both after and the deadline": (
        [{"level": "overdue", "after": 45, "at_statutory_deadline": True}],
        {"/levels/0"},
    ),
    "neither after nor the deadline": ([{"level": "warning"}], {"/levels/0"}),
    "after zero": ([{"level": "warning", "after": 0}], {"/levels/0/after"}),
    "after negative": ([{"level": "warning", "after": -3}], {"/levels/0/after"}),
    "after huge": ([{"level": "warning", "after": 10**9}], {"/levels/0/after"}),
    "level none": ([{"level": "none", "after": 3}], {"/levels/0/level"}),
    "unknown unit": (
        [{"level": "warning", "after": 3}, {"level": "critical", "after": 4, "unit": "fortnights"}],
        {"/levels/1/unit"},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(LEVEL_ERRORS))
def test_invalid_levels_are_400_with_pointers_and_write_nothing(api, mofcom, case):
    levels, expected = LEVEL_ERRORS[case]
    before = ThresholdRule.objects.count()

    body = problem(api.post(RULES, rule_body(levels=levels), format="json"), 400)

    assert pointers(body) == expected, body
    assert ThresholdRule.objects.count() == before


@pytest.mark.django_db
def test_invalid_scope_fields_are_400_with_pointers(api, other_organization, mofcom):
    theirs = ExporterFactory(organization=other_organization)
    body = problem(
        api.post(
            RULES,
            rule_body(
                exporter=str(theirs.pk),
                authority="XX-NOBODY",
                item="9Z999",
                material_family="unobtainium",
                destination_country="XX",
                lead_buffer_days=-1,
            ),
            format="json",
        ),
        400,
    )
    assert pointers(body) == {
        "/exporter",
        "/authority",
        "/item",
        "/material_family",
        "/destination_country",
        "/lead_buffer_days",
    }


# --- alerts ------------------------------------------------------------------------------------


@pytest.fixture
def alert_world(
    clock, organization, other_organization, exporter, mofcom, us_bis, dysprosium, actor
):
    """Alerts of two exporters and two authorities, raised at three instants, and one of another org."""
    bis_exporter = ExporterFactory(organization=organization, name="Jiangxi Tungsten Works")
    cn = accepted_application(
        organization=organization, exporter=exporter, authority=mofcom, line__item=dysprosium
    )
    bis_item = ControlledItemFactory(control_code="TEST-BIS-API", authority=us_bis)
    bis = LicenseApplicationFactory(
        organization=organization, exporter=bis_exporter, authority=us_bis, line__item=bis_item
    )
    walk_application(bis, [("submitted", beijing("2025-09-01"))])
    theirs = accepted_application(organization=other_organization, authority=mofcom)
    at_risk = make_shipment(
        organization=organization,
        exporter=bis_exporter,
        item=dysprosium,
        ship_date=dt.date(2025, 12, 1),
        actor=actor,
    )
    scan(beijing("2025-11-10", 11))  # BIS warning (60 calendar days), the at-risk shipment
    scan(beijing("2025-11-13", 11))  # CN warning, their warning
    scan(beijing("2025-11-28", 11))  # CN critical, BIS critical
    return {
        "cn": cn,
        "bis": bis,
        "theirs": theirs,
        "shipment": at_risk,
        "bis_exporter": bis_exporter,
    }


def listed(api, query: str = "") -> set[tuple]:
    response = api.get(f"{ALERTS}?page_size=100&{query}")
    assert response.status_code == 200, response.content
    return {
        (row["kind"], row["level"], row["application_id"] and row["application_id"][:8])
        for row in response.json()["results"]
    }


@pytest.mark.django_db
def test_the_alert_list_shows_the_organizations_alerts_newest_first(api, alert_world):
    response = api.get(ALERTS)
    rows = response.json()["results"]
    assert [row["raised_at"] for row in rows] == sorted(
        (row["raised_at"] for row in rows), reverse=True
    )
    assert {row["application_id"] for row in rows} <= {
        str(alert_world["cn"].pk),
        str(alert_world["bis"].pk),
        None,
    }
    assert len(rows) == 5
    critical = next(
        row
        for row in rows
        if row["level"] == "critical" and row["application_id"] == str(alert_world["cn"].pk)
    )
    warning = DelayAlert.objects.get(application=alert_world["cn"], level="warning")
    assert critical["escalates"] == str(warning.pk)
    assert critical["wait"] == {"elapsed": 41, "unit": "working_days"}  # scanned on day 41
    assert critical["state"] == "open"
    assert critical["kind"] == "delay_level"
    assert critical["repeat_index"] == 0
    assert critical["raised_at"] == "2025-11-28T03:00:00Z"
    assert critical["rule"] == str(ThresholdRule.objects.get(organization=None, authority=None).pk)
    at_risk = next(row for row in rows if row["kind"] == "at_risk")
    assert at_risk["shipments"] == [str(alert_world["shipment"].pk)]
    assert at_risk["wait"] is None
    assert api.get(critical["url"]).json() == critical


@pytest.mark.django_db
def test_the_alert_filters(api, alert_world, actor):
    cn, bis = str(alert_world["cn"].pk)[:8], str(alert_world["bis"].pk)[:8]
    everything = listed(api)
    assert everything == {
        ("delay_level", "warning", cn),
        ("delay_level", "critical", cn),
        ("delay_level", "warning", bis),
        ("delay_level", "critical", bis),
        ("at_risk", "critical", None),
    }
    assert listed(api, "kind=at_risk") == {("at_risk", "critical", None)}
    assert listed(api, "kind=at_risk&kind=delay_level") == everything
    assert listed(api, "level=warning") == {
        ("delay_level", "warning", cn),
        ("delay_level", "warning", bis),
    }
    assert listed(api, f"exporter={alert_world['bis_exporter'].pk}") == {
        ("delay_level", "warning", bis),
        ("delay_level", "critical", bis),
        ("at_risk", "critical", None),  # through its shipment
    }
    assert listed(api, "authority=US-BIS") == {
        ("delay_level", "warning", bis),
        ("delay_level", "critical", bis),
    }
    # A shipment filed under no application yet waits for the authority of its items.
    assert listed(api, "authority=CN-MOFCOM") == {
        ("delay_level", "warning", cn),
        ("delay_level", "critical", cn),
        ("at_risk", "critical", None),
    }
    assert listed(api, "raised_after=2025-11-13T03:00:00Z") == {
        ("delay_level", "warning", cn),
        ("delay_level", "critical", cn),
        ("delay_level", "critical", bis),
    }
    assert listed(api, "raised_after=2025-11-13T03:00:01Z&level=critical") == {
        ("delay_level", "critical", cn),
        ("delay_level", "critical", bis),
    }

    warning = DelayAlert.objects.get(application=alert_world["cn"], level="warning")
    assert api.post(f"{ALERTS}{warning.pk}/acknowledge/", {}, format="json").status_code == 200
    DelayAlert.objects.filter(kind=AlertKind.AT_RISK).update(resolved_at=beijing("2025-11-29"))
    assert listed(api, "state=acknowledged") == {("delay_level", "warning", cn)}
    assert listed(api, "state=resolved") == {("at_risk", "critical", None)}
    assert listed(api, "state=open") == everything - {
        ("delay_level", "warning", cn),
        ("at_risk", "critical", None),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "kind=late",
        "level=panic",
        "state=closed",
        "exporter=not-a-uuid",
        "raised_after=yesterday",
        "raised_after=9999-12-31T23:59:59-12:00",
        "authority=" + "A" * 21,
    ],
)
def test_invalid_alert_filters_are_400_problems(api, query):
    problem(api.get(f"{ALERTS}?{query}"), 400)


@pytest.mark.django_db
def test_an_alert_is_acknowledged_once_with_its_note(clock, api, alert_world):
    alert = DelayAlert.objects.get(application=alert_world["cn"], level="critical")
    url = f"{ALERTS}{alert.pk}/acknowledge/"
    clock.set(beijing("2025-11-28", 14))

    first = api.post(url, {"note": "Chased MOFCOM by phone."}, format="json")

    assert first.status_code == 200, first.content
    body = first.json()
    assert body["id"] == str(alert.pk)
    assert body["state"] == "acknowledged"
    assert body["acknowledge_note"] == "Chased MOFCOM by phone."
    assert body["acknowledged_at"] == "2025-11-28T06:00:00Z"
    assert body["acknowledged_by"].startswith("api-key:erp")

    clock.set(beijing("2025-11-29", 9))
    again = api.post(url, {"note": "Second try."}, format="json")
    assert again.status_code == 200
    assert again.json()["acknowledge_note"] == "Chased MOFCOM by phone."
    assert again.json()["acknowledged_at"] == "2025-11-28T06:00:00Z"
    assert api.get(f"{ALERTS}{alert.pk}/").json()["state"] == "acknowledged"

    without_note = DelayAlert.objects.get(application=alert_world["cn"], level="warning")
    response = api.post(f"{ALERTS}{without_note.pk}/acknowledge/", format="json")
    assert response.status_code == 200
    assert response.json()["acknowledge_note"] == ""


@pytest.mark.django_db
def test_another_organizations_alert_is_not_found_and_stays_unacknowledged(
    api, read_only_api, alert_world
):
    theirs = DelayAlert.objects.get(application=alert_world["theirs"], level="warning")
    assert problem(api.get(f"{ALERTS}{theirs.pk}/"), 404)
    assert problem(api.post(f"{ALERTS}{theirs.pk}/acknowledge/", {"note": "x"}, format="json"), 404)
    theirs.refresh_from_db()
    assert theirs.acknowledged_at is None

    ours = DelayAlert.objects.get(application=alert_world["cn"], level="warning")
    assert problem(read_only_api.post(f"{ALERTS}{ours.pk}/acknowledge/", format="json"), 403)
    assert problem(
        api.post(f"{ALERTS}{ours.pk}/acknowledge/", {"note": "n" * 2001}, format="json"), 400
    )
    ours.refresh_from_db()
    assert ours.acknowledged_at is None


# --- the delay state in applications and shipments -----------------------------------------------


@pytest.fixture
def overdue_application(clock, organization, exporter, mofcom, dysprosium):
    """Accepted 26 Sep 2025, seen on Friday 5 December: one day past its deadline."""
    application = accepted_application(
        organization=organization,
        exporter=exporter,
        authority=mofcom,
        line__item=dysprosium,
        license_type="general",
    )
    clock.set(beijing("2025-12-05", 10))
    scan(clock())
    return application


@pytest.mark.django_db
def test_an_application_shows_its_wait_level_deadline_next_threshold_and_risk(
    api, overdue_application, organization, exporter, dysprosium, actor
):
    make_shipment(
        overdue_application,
        organization=organization,
        exporter=exporter,
        item=dysprosium,
        ship_date=dt.date(2025, 12, 8),  # a decision today (5 Dec) is after 3 Dec: at risk
        actor=actor,
    )

    body = api.get(f"{APPLICATIONS}{overdue_application.pk}/").json()

    assert body["wait"] == {
        "elapsed": 46,
        "unit": "working_days",
        "clock_started_at": "2025-09-26T02:00:00Z",
        "paused_days": 0,
        "statutory_deadline": "2025-12-04",
        "is_running": True,
    }
    assert body["statutory_deadline"] == "2025-12-04"
    assert body["delay_level"] == "overdue"
    assert body["next_threshold"] == {"level": "overdue", "date": "2025-12-18"}
    assert body["at_risk"] is True


@pytest.mark.django_db
def test_a_shipment_shows_the_delay_state_of_its_application(
    api, overdue_application, organization, exporter, dysprosium, actor
):
    covered = make_shipment(
        overdue_application,
        organization=organization,
        exporter=exporter,
        item=dysprosium,
        ship_date=dt.date(2026, 3, 2),
        actor=actor,
    )
    uncovered = make_shipment(
        organization=organization,
        exporter=exporter,
        item=dysprosium,
        ship_date=dt.date(2025, 12, 19),
        actor=actor,
    )

    body = api.get(f"{SHIPMENTS}{covered.pk}/").json()
    assert body["wait"]["elapsed"] == 46
    assert body["wait"]["clock_started_at"] == "2025-09-26T02:00:00Z"
    assert body["statutory_deadline"] == "2025-12-04"
    assert body["delay_level"] == "overdue"
    assert body["next_threshold"] == {"level": "overdue", "date": "2025-12-18"}
    assert (body["at_risk"], body["license_expiring"]) == (False, "none")

    body = api.get(f"{SHIPMENTS}{uncovered.pk}/").json()
    assert body["wait"] is None
    assert body["statutory_deadline"] is None
    assert body["delay_level"] == "none"
    assert body["next_threshold"] is None
    assert body["at_risk"] is True  # nothing filed, three weeks before shipping


def _overdue_and_fresh(count, *, clock, organization, exporter, item, actor):
    """`count` overdue applications and `count` fresh ones, each with a shipment."""
    clock.set(beijing("2025-12-05", 10))
    made = {"overdue": [], "none": []}
    for level, accepted_on in (("overdue", "2025-09-26"), ("none", "2025-12-01")):
        for _ in range(count):
            application = accepted_application(
                beijing(accepted_on),
                organization=organization,
                exporter=exporter,
                line__item=item,
                license_type="general",
                authority=item.authority,
            )
            shipment = make_shipment(
                application,
                organization=organization,
                exporter=exporter,
                item=item,
                ship_date=dt.date(2026, 6, 1),
                actor=actor,
            )
            made[level].append((application, shipment))
    scan(clock())
    return made


def _ids(api, url) -> tuple[set[str], int]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}, len(captured)


@pytest.mark.django_db
def test_the_delay_level_filter_works_on_both_lists_with_constant_queries(
    clock, api, organization, exporter, dysprosium, actor
):
    made = _overdue_and_fresh(
        2, clock=clock, organization=organization, exporter=exporter, item=dysprosium, actor=actor
    )
    overdue_apps = {str(a.pk) for a, _ in made["overdue"]}
    overdue_shipments = {str(s.pk) for _, s in made["overdue"]}

    apps, few_app_queries = _ids(api, f"{APPLICATIONS}?delay_level=overdue")
    shipments, few_shipment_queries = _ids(api, f"{SHIPMENTS}?delay_level=overdue")
    assert apps == overdue_apps
    assert shipments == overdue_shipments
    assert _ids(api, f"{APPLICATIONS}?delay_level=none")[0] == {str(a.pk) for a, _ in made["none"]}
    assert _ids(api, f"{APPLICATIONS}?delay_level=critical")[0] == set()
    assert _ids(api, f"{APPLICATIONS}?delay_level=critical&delay_level=overdue")[0] == apps
    problem(api.get(f"{APPLICATIONS}?delay_level=late"), 400)
    problem(api.get(f"{SHIPMENTS}?delay_level=late"), 400)

    more = _overdue_and_fresh(
        6, clock=clock, organization=organization, exporter=exporter, item=dysprosium, actor=actor
    )
    apps, many_app_queries = _ids(api, f"{APPLICATIONS}?delay_level=overdue")
    shipments, many_shipment_queries = _ids(api, f"{SHIPMENTS}?delay_level=overdue")
    assert len(apps) == len(shipments) == 8
    assert apps == overdue_apps | {str(a.pk) for a, _ in more["overdue"]}
    assert many_app_queries == few_app_queries
    assert many_shipment_queries == few_shipment_queries


@pytest.mark.django_db
def test_the_shipment_delay_level_none_includes_shipments_without_an_application(
    clock, api, overdue_application, organization, exporter, dysprosium, actor
):
    covered = make_shipment(
        overdue_application,
        organization=organization,
        exporter=exporter,
        item=dysprosium,
        ship_date=dt.date(2026, 3, 2),
        actor=actor,
    )
    uncovered = make_shipment(
        organization=organization,
        exporter=exporter,
        item=dysprosium,
        ship_date=dt.date(2026, 6, 1),
        actor=actor,
    )
    assert _ids(api, f"{SHIPMENTS}?delay_level=none")[0] == {str(uncovered.pk)}
    assert _ids(api, f"{SHIPMENTS}?delay_level=overdue")[0] == {str(covered.pk)}
    assert _ids(api, f"{SHIPMENTS}?at_risk=true")[0] == set()
