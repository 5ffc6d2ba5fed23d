"""Errors as a client sees them: RFC 9457 problems, hostile input, request ids, throttling.

Every 4xx (and 5xx) of /api/ is `application/problem+json` with `type`, `title`, `status`,
`detail` and `instance`, and field errors name a JSON pointer. Hostile input gets a 4xx,
never a 500, and a refused request writes nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from core.api.problems import PROBLEM_TYPES
from core.api.throttling import ApiKeyRateThrottle
from licensing.models import ThresholdRule
from licensing.services import exporters as exporter_services
from licensing.staff_groups import COMPLIANCE_OFFICER
from tests.api.contract import (
    JSON,
    REQUEST_ID,
    World,
    assert_problem,
    key_client,
    ok,
    pointers,
    table_counts,
)
from tests.api.test_contract import application_body, exporter_body, rule_body, shipment_body
from tests.factories import LicenseApplicationFactory

EXPORTERS = "/api/v1/exporters/"
APPLICATIONS = "/api/v1/license-applications/"
SHIPMENTS = "/api/v1/shipments/"
RULES = "/api/v1/threshold-rules/"
MB = 1_000_000

Body = bytes | dict | list | None


@dataclass(frozen=True)
class Hostile:
    """A request that must be refused with `status`, naming `pointer` when it is a field's fault.

    `path` and `body` may be functions of the world; a dict body is sent as ASCII JSON, so a
    lone surrogate travels as the escape \\ud800.
    """

    method: str
    path: str | Callable[[World], str]
    body: Body | Callable[[World], Body] = None
    status: int = 400
    pointer: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    def prepare(self, world: World) -> Callable[[], Any]:
        """The request, ready to send: the rows its path or body needs are made now."""
        path = self.path(world) if callable(self.path) else self.path
        body = self.body(world) if callable(self.body) else self.body
        data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body)
        return lambda: world.ours.api.generic(
            self.method.upper(), path, data, content_type=self.content_type, **self.headers
        )


def draft_url(world: World) -> str:
    application = LicenseApplicationFactory(
        organization=world.ours.organization,
        exporter=world.ours.exporter,
        authority=world.authority,
        line__item=world.item,
    )
    return f"{APPLICATIONS}{application.pk}/"


def exporter_url(world: World) -> str:
    return f"{EXPORTERS}{world.ours.exporter.pk}/"


def application(**overrides: Any) -> Callable[[World], dict]:
    return lambda world: application_body(world, **overrides)


def line(**fields: Any) -> Callable[[World], dict]:
    base = {"item": "1C905", "quantity": "1000", "unit": "kg"}
    return application(lines=[base | fields])


def shipment(**overrides: Any) -> Callable[[World], dict]:
    return lambda world: shipment_body(world, **overrides)


def if_match(etag: str = "*") -> dict[str, str]:
    return {"HTTP_IF_MATCH": etag}


def over_the_limit() -> bytes:
    padding = "x" * django_settings.API_MAX_BODY_BYTES
    return json.dumps(exporter_body(address=padding)).encode()


HOSTILE: dict[str, Hostile] = {
    # -- malformed JSON ----------------------------------------------------------------------
    "truncated JSON": Hostile("post", EXPORTERS, b'{"name": "Baotou"'),
    "a missing value": Hostile("post", EXPORTERS, b'{"name": }'),
    "trailing garbage": Hostile("post", EXPORTERS, b'{"name": "x"} {}'),
    "single quotes": Hostile("post", EXPORTERS, b"{'name': 'x'}"),
    "not UTF-8": Hostile("post", EXPORTERS, b'{"name": "\xff\xfe"}'),
    "an empty body": Hostile("post", EXPORTERS, b"", pointer="/name"),
    "NaN": Hostile("post", EXPORTERS, b'{"name": NaN}'),
    "Infinity": Hostile("post", RULES, b'{"name": "x", "lead_buffer_days": Infinity}'),
    "lists nested 100,000 deep": Hostile("post", EXPORTERS, b"[" * 100_000),
    "objects nested 100,000 deep": Hostile("post", EXPORTERS, b'{"a":' * 100_000),
    "lists nested 990 deep": Hostile("post", EXPORTERS, b"[" * 990 + b"]" * 990),
    "lists nested 990 deep, with an Idempotency-Key": Hostile(
        "post",
        EXPORTERS,
        b'{"name": ' + b"[" * 990 + b"]" * 990 + b"}",
        headers={"HTTP_IDEMPOTENCY_KEY": "deep-1"},
    ),
    "lists nested 200 deep, with an Idempotency-Key": Hostile(
        "post",
        EXPORTERS,
        b'{"name": ' + b"[" * 200 + b"]" * 200 + b"}",
        pointer="/name",
        headers={"HTTP_IDEMPOTENCY_KEY": "deep-2"},
    ),
    "malformed JSON in a PATCH": Hostile(
        "patch", exporter_url, b'{"address": ', headers=if_match()
    ),
    # -- NUL bytes -----------------------------------------------------------------------------
    "NUL in a string": Hostile(
        "post", EXPORTERS, exporter_body(name="Baotou\x00"), pointer="/name"
    ),
    "NUL in a nested string": Hostile(
        "post",
        APPLICATIONS,
        application(end_user={"name": "Rheinland\x00", "country": "DE"}),
        pointer="/end_user/name",
    ),
    "NUL in a line": Hostile("post", APPLICATIONS, line(unit="kg\x00"), pointer="/lines/0/unit"),
    "NUL in a key": Hostile("post", EXPORTERS, exporter_body() | {"na\x00me": "x"}),
    "NUL in a threshold level": Hostile(
        "post",
        RULES,
        rule_body(levels=[{"level": "warn\x00ing", "after": 5}]),
        pointer="/levels/0/level",
    ),
    "NUL in a PATCH": Hostile(
        "patch", exporter_url, {"address": "Baotou\x00"}, pointer="/address", headers=if_match()
    ),
    "NUL in the path": Hostile("get", f"{EXPORTERS}%00/"),
    "NUL in the path of a DELETE": Hostile("delete", f"{EXPORTERS}%00/", headers=if_match()),
    "NUL in a query value": Hostile("get", f"{EXPORTERS}?search=%00"),
    "NUL in a query name": Hostile("get", f"{EXPORTERS}?%00=1"),
    "NUL in a cursor": Hostile("get", f"{EXPORTERS}?cursor=abc%00def"),
    "NUL in an Idempotency-Key": Hostile(
        "post", EXPORTERS, exporter_body(), headers={"HTTP_IDEMPOTENCY_KEY": "key\x00"}
    ),
    # -- lone surrogates -----------------------------------------------------------------------
    "a lone high surrogate": Hostile(
        "post", EXPORTERS, exporter_body(name="\ud800"), pointer="/name"
    ),
    "a lone low surrogate, nested": Hostile(
        "post",
        APPLICATIONS,
        application(end_user={"name": "R\udfff", "country": "DE"}),
        pointer="/end_user/name",
    ),
    "a lone surrogate in a key": Hostile("post", EXPORTERS, exporter_body() | {"\ud800": "x"}),
    "a lone surrogate in an enum": Hostile(
        "post", APPLICATIONS, application(license_type="\ud800"), pointer="/license_type"
    ),
    # -- numbers and dates out of range ------------------------------------------------------
    "page_size 10**30": Hostile("get", f"{EXPORTERS}?page_size={10**30}", pointer="/page_size"),
    "quantity 1e400 as text": Hostile(
        "post", APPLICATIONS, line(quantity="1e400"), pointer="/lines/0/quantity"
    ),
    "quantity 1e400 as a number": Hostile(
        "post",
        APPLICATIONS,
        lambda world: json.dumps(line()(world)).replace('"1000"', "1e400").encode(),
        pointer="/lines/0/quantity",
    ),
    "quantity 10**30": Hostile(
        "post", APPLICATIONS, line(quantity=10**30), pointer="/lines/0/quantity"
    ),
    "value 10**30": Hostile(
        "post", APPLICATIONS, line(value=10**30, currency="USD"), pointer="/lines/0/value"
    ),
    "a level after 10**30 days": Hostile(
        "post",
        RULES,
        rule_body(levels=[{"level": "warning", "after": 10**30}]),
        pointer="/levels/0/after",
    ),
    "a lead buffer of 10**30 days": Hostile(
        "post", RULES, rule_body(lead_buffer_days=10**30), pointer="/lead_buffer_days"
    ),
    "a negative lead buffer": Hostile(
        "post", RULES, rule_body(lead_buffer_days=-1), pointer="/lead_buffer_days"
    ),
    "an integer of 5,000 digits": Hostile(
        "post", RULES, b'{"name": "x", "repeat_every": ' + b"9" * 5000 + b"}"
    ),
    "a ship date in year 1": Hostile(
        "post", SHIPMENTS, shipment(required_ship_date="0001-01-01"), pointer="/required_ship_date"
    ),
    "a ship date in year 10000": Hostile(
        "post", SHIPMENTS, shipment(required_ship_date="10000-01-01"), pointer="/required_ship_date"
    ),
    "a time outside UTC's range in a filter": Hostile(
        "get", f"{SHIPMENTS}?updated_since=0001-01-01T00:00:00%2B14:00", pointer="/updated_since"
    ),
    "a time outside UTC's range in a transition": Hostile(
        "post",
        lambda world: f"{draft_url(world)}transitions/",
        {"to": "submitted", "occurred_at": "9999-12-31T23:59:59-12:00"},
        pointer="/occurred_at",
    ),
    # -- huge strings ----------------------------------------------------------------------------
    "a 1 MB name": Hostile("post", EXPORTERS, exporter_body(name="n" * MB), pointer="/name"),
    "a 1 MB address": Hostile(
        "post", EXPORTERS, exporter_body(address="a" * MB), pointer="/address"
    ),
    "a 1 MB end use": Hostile(
        "post", APPLICATIONS, application(end_use="u" * MB), pointer="/end_use"
    ),
    "a 1 MB reference": Hostile(
        "post", SHIPMENTS, shipment(external_reference="P" * MB), pointer="/external_reference"
    ),
    "a 1 MB rule name": Hostile("post", RULES, rule_body(name="r" * MB), pointer="/name"),
    "a 1 MB transition note": Hostile(
        "post",
        lambda world: f"{draft_url(world)}transitions/",
        {"to": "submitted", "note": "n" * MB},
        pointer="/note",
    ),
    "a 1 MB PATCH": Hostile(
        "patch", exporter_url, {"address": "a" * MB}, pointer="/address", headers=if_match()
    ),
    "a 100 kB search": Hostile("get", f"{EXPORTERS}?search={'s' * 100_000}", pointer="/search"),
    "a body over the limit": Hostile("post", EXPORTERS, over_the_limit(), status=413),
    "a PATCH over the limit": Hostile(
        "patch", exporter_url, over_the_limit(), status=413, headers=if_match()
    ),
    "a Content-Length that is no number": Hostile(
        "post", EXPORTERS, b"{}", headers={"CONTENT_LENGTH": "abc"}
    ),
    # -- unknown enum values -------------------------------------------------------------------
    "an unknown license type": Hostile(
        "post", APPLICATIONS, application(license_type="forever"), pointer="/license_type"
    ),
    "an unknown unit": Hostile("post", APPLICATIONS, line(unit="lb"), pointer="/lines/0/unit"),
    "an unknown level": Hostile(
        "post",
        RULES,
        rule_body(levels=[{"level": "apocalypse", "after": 3}]),
        pointer="/levels/0/level",
    ),
    "an unknown period unit": Hostile(
        "post",
        RULES,
        rule_body(levels=[{"level": "warning", "after": 3, "unit": "fortnights"}]),
        pointer="/levels/0/unit",
    ),
    "an unknown material family": Hostile(
        "post", RULES, rule_body(material_family="unobtainium"), pointer="/material_family"
    ),
    "an unknown country": Hostile(
        "post", EXPORTERS, exporter_body(country="XX"), pointer="/country"
    ),
    "an unknown status": Hostile(
        "post", lambda world: f"{draft_url(world)}transitions/", {"to": "lost"}, pointer="/to"
    ),
    "an unknown filter value": Hostile("get", f"{SHIPMENTS}?status=lost", pointer="/status"),
    "10,000 unknown filter values": Hostile(
        "get",
        f"{SHIPMENTS}?status={','.join(f'lost{n}' for n in range(10_000))}",
        pointer="/status",
    ),
    "a format string as a filter value": Hostile(
        "get", f"{SHIPMENTS}?status=%25s%25(x)s&delay_level=%25d", pointer="/status"
    ),
    "a format string as a time": Hostile(
        "get", f"{SHIPMENTS}?updated_since=2025-01-01T00:00:00%20%25s", pointer="/updated_since"
    ),
    # -- fields the API does not accept --------------------------------------------------------
    "an unknown field": Hostile("post", EXPORTERS, exporter_body(nmae="x"), pointer="/nmae"),
    "an unknown field named with / and ~": Hostile(
        "post", EXPORTERS, exporter_body() | {"a/b~c": 1}, pointer="/a~1b~0c"
    ),
    "10,000 unknown fields": Hostile(
        "post", EXPORTERS, exporter_body() | {f"field{n}": n for n in range(10_000)}
    ),
    "unknown fields in 50,000 lines": Hostile(
        "post", APPLICATIONS, application(lines=[{"x": 1}] * 50_000), pointer="/lines"
    ),
    "an unknown field in a PATCH": Hostile(
        "patch", exporter_url, {"adress": "x"}, pointer="/adress", headers=if_match()
    ),
    "a read-only field changed in a PATCH": Hostile(
        "patch", exporter_url, {"version": 99}, pointer="/version", headers=if_match()
    ),
    "an unknown field in a transition": Hostile(
        "post",
        lambda world: f"{draft_url(world)}transitions/",
        {"to": "submitted", "reason": "x"},
        pointer="/reason",
    ),
    # -- wrong types ---------------------------------------------------------------------------
    "a list for the body": Hostile("post", EXPORTERS, [exporter_body()], pointer="/"),
    "a string for the body": Hostile("post", EXPORTERS, b'"Baotou"', pointer="/"),
    "null for the body": Hostile("post", EXPORTERS, b"null", pointer="/"),
    "a number for the body": Hostile("post", EXPORTERS, b"42", pointer="/"),
    "a list for a PATCH body": Hostile(
        "patch", exporter_url, [{"address": "x"}], pointer="/", headers=if_match()
    ),
    "a list for an object": Hostile(
        "post", APPLICATIONS, application(end_user=["Rheinland"]), pointer="/end_user"
    ),
    "an object for a list": Hostile(
        "post", APPLICATIONS, application(lines={"0": {"item": "1C905"}}), pointer="/lines"
    ),
    "an object for a string": Hostile(
        "post", EXPORTERS, exporter_body(name={"first": "Baotou"}), pointer="/name"
    ),
    "a list for a country": Hostile(
        "post", EXPORTERS, exporter_body(country=["CN"]), pointer="/country"
    ),
    "a number for a date": Hostile(
        "post", SHIPMENTS, shipment(required_ship_date=20250101), pointer="/required_ship_date"
    ),
    "a number for an id": Hostile(
        "post", APPLICATIONS, application(exporter=5), pointer="/exporter"
    ),
    "a boolean for a quantity": Hostile(
        "post", APPLICATIONS, line(quantity=True), pointer="/lines/0/quantity"
    ),
    "a string for a boolean": Hostile(
        "post", RULES, rule_body(is_active="perhaps"), pointer="/is_active"
    ),
    "a string for a list": Hostile("post", RULES, rule_body(levels="warning"), pointer="/levels"),
    # -- paths and methods ---------------------------------------------------------------------
    "an unknown path": Hostile("get", "/api/v1/nothing/", status=404),
    "a POST to an unknown path": Hostile("post", "/api/v1/nothing/", {}, status=404),
    "a DELETE to an unknown version": Hostile("delete", "/api/v2/exporters/", status=404),
    "an id that is no uuid": Hostile("get", f"{EXPORTERS}not-a-uuid/", status=404),
    "an unknown problem type": Hostile("get", "/api/problems/nothing", status=404),
    "DELETE on a list": Hostile("delete", EXPORTERS, status=405, headers=if_match()),
    "PUT on a list": Hostile("put", EXPORTERS, exporter_body(), status=405, headers=if_match()),
    "POST on an object": Hostile("post", exporter_url, exporter_body(), status=405),
    "DELETE on a history": Hostile(
        "delete", lambda world: f"{draft_url(world)}transitions/", status=405
    ),
    "PATCH on an alert list": Hostile("patch", "/api/v1/alerts/", {}, status=405),
    "POST on a catalogue": Hostile("post", "/api/v1/authorities/", {"code": "X"}, status=405),
    "an Accept the API cannot answer": Hostile(
        "get", EXPORTERS, status=406, headers={"HTTP_ACCEPT": "application/xml"}
    ),
    "a body that is not JSON": Hostile(
        "post",
        EXPORTERS,
        b"name=Baotou",
        status=415,
        content_type="application/x-www-form-urlencoded",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_is_a_4xx_problem_and_writes_nothing(world, case):
    hostile = HOSTILE[case]
    world.ours.api.raise_request_exception = False
    send = hostile.prepare(world)
    counts = table_counts()

    response = send()

    body = assert_problem(response, hostile.status)
    if hostile.pointer:
        assert hostile.pointer in pointers(body), body
    if hostile.status == 405:
        assert response.has_header("Allow")
    after = table_counts()
    if "HTTP_IDEMPOTENCY_KEY" in hostile.headers:
        # A 400 to a body that parsed is kept on purpose, for replay (see test_idempotency).
        del after["core.IdempotencyRecord"], counts["core.IdempotencyRecord"]
    assert after == counts


@pytest.mark.django_db
def test_field_errors_name_every_field_with_a_pointer(world):
    body = {
        "exporter": "not-a-uuid",
        "authority": "XX-NOBODY",
        "license_type": "forever",
        "end_user": {"name": "", "country": "XX"},
        "destination_country": "DE",
        "lines": [
            {"item": "1C905", "quantity": "1", "unit": "kg"},
            {"item": "1C905", "quantity": "-1", "unit": "lb"},
        ],
    }
    problem = assert_problem(world.ours.api.post(APPLICATIONS, body, format="json"), 400)

    assert problem["code"] == "invalid"
    assert pointers(problem) == {
        "/exporter",
        "/authority",
        "/license_type",
        "/end_user/name",
        "/end_user/country",
        "/end_use",
        "/lines/1/quantity",
        "/lines/1/unit",
    }
    codes = {error["pointer"]: error["code"] for error in problem["errors"]}
    assert codes["/end_use"] == "required"
    assert codes["/license_type"] == "invalid_choice"
    assert codes["/lines/1/quantity"] == "min_value"


@pytest.mark.django_db
def test_a_body_of_many_unknown_fields_gets_a_bounded_answer(world):
    body = exporter_body() | {f"field{n}": n for n in range(10_000)}
    response = world.ours.api.post(EXPORTERS, body, format="json")

    problem = assert_problem(response, 400, "invalid")
    assert 0 < len(problem["errors"]) <= 100
    assert {error["code"] for error in problem["errors"]} == {"unknown_field"}
    assert len(response.content) < 100_000


@pytest.mark.django_db
def test_unknown_and_invalid_fields_are_reported_together(world):
    body = application_body(world, license_type="forever", colour="red")
    body["lines"][0] |= {"quantity": "-1", "weight": "5 kg"}
    problem = assert_problem(world.ours.api.post(APPLICATIONS, body, format="json"), 400)

    codes = {error["pointer"]: error["code"] for error in problem["errors"]}
    assert codes == {
        "/license_type": "invalid_choice",
        "/colour": "unknown_field",
        "/lines/0/quantity": "min_value",
        "/lines/0/weight": "unknown_field",
    }


@pytest.mark.django_db
def test_every_problem_type_is_described_at_its_uri(world):
    for code, (title, _) in PROBLEM_TYPES.items():
        body = ok(key_client().get(f"/api/problems/{code}"))
        assert body["title"] == title
        assert body["type"] == f"http://testserver/api/problems/{code}"


@pytest.mark.django_db
@pytest.mark.parametrize("offset", ["+20:21", "-23:59", "+14:00", "Z"])
def test_a_time_with_any_offset_python_reads_is_compared_in_utc(world, offset):
    """PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows: they are sent in UTC."""
    time = f"2025-01-01T00:00:00{offset}"
    for url, name in (
        (EXPORTERS, "updated_since"),
        (APPLICATIONS, "updated_since"),
        (SHIPMENTS, "updated_since"),
        ("/api/v1/alerts/", "raised_after"),
    ):
        ok(world.ours.api.get(url, {name: time}))
    cursor = {"d": "next", "o": "-created_at", "v": {"dt": time}, "i": str(uuid.uuid4())}
    encoded = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
    ok(world.ours.api.get(EXPORTERS, {"cursor": encoded}))

    transition = world.ours.api.post(
        f"{draft_url(world)}transitions/",
        {"to": "submitted", "occurred_at": time},
        format="json",
    )
    utc = dt.datetime.fromisoformat(time.replace("Z", "+00:00")).astimezone(dt.UTC)
    assert ok(transition, 201)["occurred_at"] == utc.isoformat().replace("+00:00", "Z")


# --- a refused write leaves no trace --------------------------------------------------------


@pytest.mark.django_db
def test_a_rule_refused_after_its_insert_is_rolled_back(world):
    counts = table_counts()
    twice = [{"level": "warning", "after": 5}, {"level": "warning", "after": 9}]
    response = world.ours.api.post(RULES, rule_body(levels=twice), format="json")

    assert pointers(assert_problem(response, 400, "invalid_fields")) == {"/levels/1/level"}
    assert table_counts() == counts


@pytest.mark.django_db
def test_an_update_refused_after_its_version_claim_keeps_the_version(world):
    created = ok(world.ours.api.post(RULES, rule_body(), format="json"), 201)
    both = [{"level": "warning", "after": 5, "at_statutory_deadline": True}]
    response = world.ours.api.patch(
        created["url"], {"name": "Renamed", "levels": both}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert pointers(assert_problem(response, 400, "invalid_fields")) == {"/levels/0"}
    rule = ThresholdRule.objects.get(pk=created["id"])
    assert (rule.name, rule.version, rule.levels.count()) == ("Gallium to Japan", 1, 2)
    assert world.ours.api.get(created["url"])["ETag"] == '"1"'


@pytest.mark.django_db
def test_a_duplicate_is_refused_and_writes_nothing(world):
    ok(world.ours.api.post(EXPORTERS, exporter_body(), format="json"), 201)
    counts = table_counts()
    again = world.ours.api.post(EXPORTERS, exporter_body(name="Another name"), format="json")
    assert pointers(assert_problem(again, 400)) == {"/registration_number"}
    assert table_counts() == counts


@pytest.mark.django_db
def test_a_server_error_is_a_problem_too_and_writes_nothing(world, monkeypatch):
    save = exporter_services._save_exporter

    def save_then_break(exporter):
        save(exporter)
        raise RuntimeError("the service broke half-way")

    monkeypatch.setattr(exporter_services, "_save_exporter", save_then_break)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.ours.key}")
    counts = table_counts()

    response = client.post(EXPORTERS, exporter_body(), format="json")

    body = assert_problem(response, 500, "server_error")
    assert "the service broke" not in json.dumps(body)
    assert body["request_id"] == response[REQUEST_ID]
    assert table_counts() == counts


@pytest.mark.django_db
def test_a_session_write_without_a_csrf_token_is_a_403_problem(world, django_user_model):
    staff = django_user_model.objects.create_user(
        username="officer", password="unused-password", is_staff=True
    )
    # An officer may create exporters: the missing token is the only reason to refuse.
    staff.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    world.ours.organization.members.add(staff)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)

    ok(client.get(EXPORTERS))
    response = client.post(EXPORTERS, exporter_body(), format="json")
    assert_problem(response, 403, "permission_denied")
    assert "CSRF" in response.json()["detail"]


# --- request ids ----------------------------------------------------------------------------


def a_request_of_each_kind(world: World) -> dict[str, Callable[..., Any]]:
    """One request per kind of answer; each takes the extra headers to send."""
    api = key_client(world.ours.key)
    return {
        "200": lambda **headers: api.get(EXPORTERS, **headers),
        "201": lambda **headers: api.post(EXPORTERS, exporter_body(), format="json", **headers),
        "400": lambda **headers: api.post(EXPORTERS, {"name": ""}, format="json", **headers),
        "400 from the guard": lambda **headers: api.get(f"{EXPORTERS}?search=%00", **headers),
        "401": lambda **headers: APIClient().get(
            EXPORTERS, HTTP_AUTHORIZATION="Api-Key nonsense", **headers
        ),
        "404": lambda **headers: api.get("/api/v1/nothing/", **headers),
        "405": lambda **headers: api.delete(EXPORTERS, **headers),
        "413": lambda **headers: api.generic(
            "POST", EXPORTERS, over_the_limit(), content_type=JSON, **headers
        ),
        "428": lambda **headers: api.delete(exporter_url(world), **headers),
        "not the API": lambda **headers: api.get("/healthz", **headers),
    }


@pytest.mark.django_db
def test_every_response_echoes_a_plain_request_id(world):
    sent = "erp-4711.retry:2_A"
    for kind, request in a_request_of_each_kind(world).items():
        response = request(HTTP_X_REQUEST_ID=sent)
        assert response[REQUEST_ID] == sent, kind
        if response["Content-Type"] == "application/problem+json":
            assert response.json()["request_id"] == sent, kind


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hostile",
    ["", " ", "a b", "x" * 129, "<script>alert(1)</script>", "id\x00", "é", "a\r\nSet-Cookie: s=1"],
    ids=["empty", "blank", "space", "too long", "markup", "NUL", "non-ASCII", "header injection"],
)
def test_a_hostile_request_id_is_replaced(world, hostile):
    seen = set()
    for kind, request in a_request_of_each_kind(world).items():
        response = request(HTTP_X_REQUEST_ID=hostile)
        assert re.fullmatch(r"[0-9a-f]{32}", response[REQUEST_ID]), (kind, response[REQUEST_ID])
        seen.add(response[REQUEST_ID])
    assert len(seen) == len(a_request_of_each_kind(world)), "one fresh id per request"


# --- throttling -----------------------------------------------------------------------------


@pytest.fixture
def three_requests_a_minute(settings, monkeypatch):
    """API_THROTTLE_RATE=3/min. DRF reads the rates into the class at import, hence the patch."""
    rates = {"api_key": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.usefixtures("three_requests_a_minute")
def test_the_request_over_the_rate_is_429_with_retry_after(world):
    for _ in range(3):
        ok(world.ours.api.get(EXPORTERS))
    counts = table_counts()

    for response in (
        world.ours.api.get(EXPORTERS),
        world.ours.api.post(EXPORTERS, exporter_body(), format="json"),
        # The same key from another address: the key is throttled, not the address.
        world.ours.api.get(EXPORTERS, REMOTE_ADDR="203.0.113.9"),
    ):
        assert_problem(response, 429, "throttled")
        assert 1 <= int(response["Retry-After"]) <= 60
    assert table_counts() == counts


@pytest.mark.django_db
@pytest.mark.usefixtures("three_requests_a_minute")
def test_throttling_counts_per_api_key(world):
    for _ in range(3):
        ok(world.ours.api.get(EXPORTERS))
    assert_problem(world.ours.api.get(EXPORTERS), 429, "throttled")

    # Another key of the same organization, and the other organization's key, still pass.
    another = key_client(world.ours.new_key(name="warehouse"))
    for client in (another, world.theirs.api):
        for _ in range(3):
            ok(client.get(EXPORTERS))
        assert_problem(client.get(EXPORTERS), 429, "throttled")


@pytest.mark.django_db
@pytest.mark.usefixtures("three_requests_a_minute")
def test_wrong_keys_are_throttled_per_client_address(world):
    prefix = world.ours.key.partition(".")[0]
    guesses = {
        "unknown key": f"Api-Key {'A' * 8}.{'B' * 32}",
        "known prefix, wrong secret": f"Api-Key {prefix}.{'C' * 32}",
        "malformed key": "Api-Key nonsense",
    }
    guesser = APIClient(REMOTE_ADDR="198.51.100.7")
    for authorization in guesses.values():
        assert_problem(guesser.get(EXPORTERS, HTTP_AUTHORIZATION=authorization), 401)

    for name, authorization in guesses.items():
        response = guesser.get(EXPORTERS, HTTP_AUTHORIZATION=authorization)
        assert_problem(response, 429, "throttled")
        assert 1 <= int(response["Retry-After"]) <= 60, name
    # A forged X-Forwarded-For is no way around it: the address is the connection's.
    forged = guesser.get(
        EXPORTERS, HTTP_AUTHORIZATION=guesses["unknown key"], HTTP_X_FORWARDED_FOR="192.0.2.1"
    )
    assert_problem(forged, 429, "throttled")

    # Another address still gets its 401, and a valid key from the guessing address still works.
    other = APIClient(REMOTE_ADDR="203.0.113.9")
    assert_problem(other.get(EXPORTERS, HTTP_AUTHORIZATION=guesses["unknown key"]), 401)
    ok(key_client(world.ours.key, REMOTE_ADDR="198.51.100.7").get(EXPORTERS))
