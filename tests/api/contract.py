"""The API contract, written once and run for every v1 resource (NetBox style).

A resource's test class (tests/api/test_contract.py) describes the resource: its list URL,
how to make rows of it, a body that creates one and a change to make, the orderings and
filters it declares, and the actions nested under an object. It inherits its tests from
here:

- `ReadContract`: read, cursor pagination (walked forward and back, default size 50,
  capped at 500, bad cursors and sizes refused), every declared filter (a valid value is
  applied, a malformed one is a 400 problem; a multi-value one takes `a,b`, repeats and
  both, as the schema says; a time one explains a `+` that arrived as a space),
  authentication, a constant number of queries per list page, and strict action bodies
  (an unknown field is a 400);
- `TenancyContract`: another organization's rows answer 404 on every method and nested
  action, and no list ever shows them;
- `WriteContract`: create (201, Location, ETag), update and delete under If-Match (428
  without it, 412 when stale), read-only keys refused (403), and strict bodies: an unknown
  field (top level or nested) or a read-only one with another value is a 400 that names it
  and writes nothing, while a GET -> PUT or GET -> PATCH round trip is accepted;
- `ReadOnlyContract`: the writes a read-only resource does not offer answer 405.

The helpers (`assert_problem`, `table_counts`, `key_client`) serve the other API tests too.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import pytest
import yaml
from django.apps import apps
from django.db import connection
from django.db.models import DateField, DateTimeField, Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ObjectChange
from licensing.models import ControlledItem, Exporter, LicensingAuthority, Organization
from licensing.services.api_keys import api_key_create
from tests.factories import ControlledItemFactory, ExporterFactory, LicensingAuthorityFactory

PROBLEM = "application/problem+json"
JSON = "application/json"
REQUEST_ID = "X-Request-ID"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "openapi" / "v1.yaml"
# A field no resource has, sent to see it refused.
UNKNOWN = "colour"

# Unique suffixes for rows made by the contract hooks.
serial = itertools.count(1)


# --- clients and the setting ----------------------------------------------------------------


def key_client(key: str | None = None, **headers: str) -> APIClient:
    """An API client that sends `Authorization: Api-Key <key>` (none without a key)."""
    client = APIClient()
    if key is not None:
        headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    client.credentials(**headers)
    return client


@dataclass
class Tenant:
    """An organization as the API sees it: a read-write key, its client and an exporter."""

    organization: Organization
    key: str
    api: APIClient
    exporter: Exporter

    def new_key(self, *, read_only: bool = False, name: str = "extra") -> str:
        _, key = api_key_create(
            organization_name=self.organization.name, name=name, read_only=read_only
        )
        return key

    def read_only_client(self) -> APIClient:
        return key_client(self.new_key(read_only=True, name="bi"))


@dataclass
class World:
    """Our organization, another one, and the catalogue rows both use (CN-MOFCOM, 1C905)."""

    ours: Tenant
    theirs: Tenant
    authority: LicensingAuthority
    item: ControlledItem


def make_tenant(name: str) -> Tenant:
    _, key = api_key_create(organization_name=name, name="erp")
    organization = Organization.objects.get(name=name)
    return Tenant(
        organization=organization,
        key=key,
        api=key_client(key),
        exporter=ExporterFactory(organization=organization),
    )


def build_world() -> World:
    authority = LicensingAuthorityFactory(code="CN-MOFCOM")
    return World(
        ours=make_tenant("Rheinland Motoren GmbH"),
        theirs=make_tenant("Kansai Precision Tools K.K."),
        authority=authority,
        item=ControlledItemFactory(control_code="1C905", authority=authority),
    )


# --- what every answer looks like -----------------------------------------------------------


def ok(response, status: int = 200) -> Any:
    """The JSON body of a successful answer (None for 204), after checking the basics."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response.has_header(REQUEST_ID)
    if status == 204:
        assert response.content == b""
        return None
    assert response["Content-Type"] == JSON
    return response.json()


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """An RFC 9457 problem: the status, the content type, the five members, field errors."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response["Content-Type"] == PROBLEM, response["Content-Type"]
    assert response.has_header(REQUEST_ID)
    body = response.json()
    assert set(body) >= PROBLEM_FIELDS, body
    type_uri = urlsplit(body["type"])
    assert type_uri.scheme in ("http", "https") and type_uri.netloc, body["type"]
    assert type_uri.path.startswith("/api/problems/"), body["type"]
    assert isinstance(body["title"], str) and body["title"], body
    assert body["status"] == status, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["instance"] == response.wsgi_request.get_full_path(), body
    for error in body.get("errors", []):
        assert set(error) == {"pointer", "detail", "code"}, error
        assert error["pointer"].startswith("/"), error
        assert isinstance(error["detail"], str) and error["detail"], error
        assert isinstance(error["code"], str) and error["code"], error
    if code is not None:
        assert body["code"] == code, body
    return body


def pointers(body: dict) -> set[str]:
    return {error["pointer"] for error in body.get("errors", [])}


def ids(rows: list[dict]) -> list[str]:
    return [row["id"] for row in rows]


def table_counts() -> dict[str, int]:
    """The number of rows of every model of the project: a failed request changes none."""
    return {
        model._meta.label: model._default_manager.count()
        for app in ("core", "licensing")
        for model in apps.get_app_config(app).get_models()
    }


def assert_shows(sent: Any, shown: Any, where: str = "") -> None:
    """The representation shows what was sent: objects may add members, the rest is equal."""
    if isinstance(sent, dict):
        assert isinstance(shown, dict), (where, shown)
        for name, value in sent.items():
            assert name in shown, (f"{where}/{name}", shown)
            assert_shows(value, shown[name], f"{where}/{name}")
    elif isinstance(sent, list):
        assert isinstance(shown, list) and len(shown) == len(sent), (where, sent, shown)
        for index, (one, other) in enumerate(zip(sent, shown, strict=True)):
            assert_shows(one, other, f"{where}/{index}")
    else:
        assert shown == sent, (where, sent, shown)


def frozen(row: Model) -> dict:
    """A row's stored values, to show that a refused request left it alone."""
    return type(row)._default_manager.filter(pk=row.pk).values().get()


def an_hour_ago() -> str:
    return (timezone.now() - dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")


# --- what a resource declares ---------------------------------------------------------------


Value = str | Callable[["World", Model], str]


@dataclass(frozen=True)
class FilterProbe:
    """A query parameter of a list: a value it accepts and a malformed one it must refuse.

    `valid` may be a function of the world and a row made by `make` for our organization;
    `matches` says whether that row passes the filter with the valid value. A filter that
    takes several values names `several`: another allowed value, which the row does not
    match. A time filter says `time`.
    """

    name: str
    valid: Value
    invalid: str
    matches: bool = True
    pointer: str = ""
    several: str = ""
    time: bool = False

    @property
    def id(self) -> str:
        return self.name

    def value(self, world: World, row: Model) -> str:
        return self.valid(world, row) if callable(self.valid) else self.valid


@dataclass(frozen=True)
class Action:
    """A request to an action nested under an object, e.g. POST {id}/transitions/."""

    method: str
    suffix: str
    body: dict | None = None

    @property
    def writes(self) -> bool:
        return self.method != "get"


@dataclass
class Request:
    method: str
    url: str
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, client: APIClient):
        send = getattr(client, self.method)
        if self.body is None:
            return send(self.url, **self.headers)
        return send(self.url, self.body, format="json", **self.headers)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.url}"


def only_error(body: dict) -> dict:
    """The one field error of a problem body."""
    assert len(body.get("errors", [])) == 1, body
    return body["errors"][0]


def list_parameters(list_url: str) -> dict[str, dict]:
    """The query parameters of the committed schema's list operation at `list_url`."""
    schema = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    operation = schema["paths"][list_url]["get"]
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def walk(client: APIClient, url: str, link: str) -> Iterator[dict]:
    """The pages reached from `url` by following the `link` ("next" or "previous") links."""
    seen = 0
    while url:
        page = ok(client.get(url))
        yield page
        url = page[link]
        seen += 1
        assert seen < 200, "the links do not end"


def sortable(value: Any) -> Any:
    """A date or time of a representation as a comparable value (None for other values)."""
    if not isinstance(value, str):
        return None
    for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat):
        try:
            return parse(value.replace("Z", "+00:00"))
        except ValueError:
            continue
    return None


def tie(model: type[Model], pks: list[Any], fields: tuple[str, ...]) -> None:
    """Give the rows two values per field, alternately: a page boundary falls among equals."""
    start = timezone.now() - dt.timedelta(days=3)
    for index, pk in enumerate(pks):
        values = {}
        for name in fields:
            model_field = model._meta.get_field(name)
            if isinstance(model_field, DateTimeField):
                values[name] = start + dt.timedelta(seconds=index % 2)
            elif isinstance(model_field, DateField):
                values[name] = start.date() + dt.timedelta(days=30 + index % 2)
        model._default_manager.filter(pk=pk).update(**values)


# --- the contract ---------------------------------------------------------------------------


class ReadContract:
    """What every resource answers to a reader. Subclasses describe the resource."""

    list_url: ClassVar[str]
    model: ClassVar[type[Model]]
    lookup: ClassVar[str] = "id"
    default_ordering: ClassVar[str] = "-created_at"
    # The fields of ?ordering=; each is also walked ascending and descending.
    orderings: ClassVar[tuple[str, ...]] = ("created_at", "updated_at")
    # Fields given equal values across page boundaries in the pagination walks.
    tie_fields: ClassVar[tuple[str, ...]] = ("created_at", "updated_at")
    filters: ClassVar[tuple[FilterProbe, ...]] = ()
    writable: ClassVar[bool] = False
    walk_page_size: ClassVar[int] = 3

    # -- hooks -------------------------------------------------------------------------------
    def make(self, world: World, tenant: Tenant) -> Model:
        """One row of `tenant`'s organization, with its related rows (lines, levels...)."""
        raise NotImplementedError

    def make_many(self, world: World, tenant: Tenant, count: int) -> list[Any]:
        """`count` plain rows, fast (bulk): for the pagination tests. Returns their pks."""
        raise NotImplementedError

    def actions(self, world: World, tenant: Tenant) -> tuple[Model, list[Action]]:
        """A row and the requests to every action nested under it (none by default)."""
        return self.make(world, tenant), []

    # -- helpers -----------------------------------------------------------------------------
    def detail_url(self, row: Model) -> str:
        return f"{self.list_url}{getattr(row, self.lookup)}/"

    def list_page(self, client: APIClient, **params: Any) -> dict:
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return ok(client.get(f"{self.list_url}{query}"))

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "probe" in metafunc.fixturenames:
            probes = (*self.filters, FilterProbe("ordering", f"-{self.orderings[0]}", "password"))
            metafunc.parametrize("probe", probes, ids=[probe.id for probe in probes])
        for fixture, wanted in (("multi_probe", "several"), ("time_probe", "time")):
            if fixture in metafunc.fixturenames:
                probes = tuple(probe for probe in self.filters if getattr(probe, wanted))
                metafunc.parametrize(fixture, probes, ids=[probe.id for probe in probes])
        if "ordering" in metafunc.fixturenames:
            orderings = [None, *(f"{sign}{name}" for name in self.orderings for sign in "-+")]
            metafunc.parametrize(
                "ordering",
                [ordering and ordering.lstrip("+") for ordering in orderings],
                ids=[ordering or "default" for ordering in orderings],
            )

    # -- read --------------------------------------------------------------------------------
    def check_read_headers(self, response, row: Model) -> None:
        """Resources with a version answer its ETag (see WriteContract)."""

    def test_read_answers_the_representation(self, world):
        row = self.make(world, world.ours)
        response = world.ours.api.get(self.detail_url(row))

        body = ok(response)
        self.check_read_headers(response, row)
        assert body["id"] == str(row.pk)
        assert body["url"] == f"http://testserver{self.detail_url(row)}"
        for name in ("created_at", "updated_at"):
            assert sortable(body[name]) is not None, (name, body[name])
        assert ok(world.ours.api.get(body["url"])) == body

    def test_an_unknown_object_is_a_404_problem(self, world):
        unknown = "00000000-0000-0000-0000-000000000000" if self.lookup == "id" else "NOPE-0"
        assert_problem(world.ours.api.get(f"{self.list_url}{unknown}/"), 404, "not_found")

    # -- lists -------------------------------------------------------------------------------
    def test_the_links_walk_forward_and_back_without_gaps_or_duplicates(self, world, ordering):
        pks = self.make_many(world, world.ours, 7)
        tie(self.model, pks, self.tie_fields)
        params = {"ordering": ordering} if ordering else {}
        whole = self.list_page(world.ours.api, page_size=500, **params)
        assert whole["next"] is None and whole["previous"] is None
        expected = ids(whole["results"])
        assert set(map(str, pks)) <= set(expected)
        self.check_order(whole["results"], ordering or self.default_ordering)

        first_url = f"{self.list_url}?{urlencode({'page_size': self.walk_page_size, **params})}"
        forward = list(walk(world.ours.api, first_url, "next"))
        assert forward[0]["previous"] is None
        assert all(len(page["results"]) == self.walk_page_size for page in forward[:-1])
        assert [row for page in forward for row in ids(page["results"])] == expected

        backward = list(walk(world.ours.api, forward[-1]["previous"], "previous"))
        assert [ids(page["results"]) for page in reversed(backward)] == [
            ids(page["results"]) for page in forward[:-1]
        ]
        if backward:  # the first page, reached backwards, leads forward again
            again = ok(world.ours.api.get(backward[-1]["next"]))
            assert ids(again["results"]) == ids(forward[1]["results"])

    def check_order(self, rows: list[dict], ordering: str) -> None:
        """Dates and times are compared; text follows the database's collation, not Python's."""
        name = ordering.lstrip("-")
        values = [sortable(row.get(name)) for row in rows]
        if name not in rows[0] or None in values:
            return
        assert values == sorted(values, reverse=ordering.startswith("-")), ordering

    def test_page_size_defaults_to_50_and_is_capped_at_500(self, world):
        self.make_many(world, world.ours, 501)
        default = self.list_page(world.ours.api)
        assert len(default["results"]) == 50 and default["next"]

        capped = self.list_page(world.ours.api, page_size=501)
        assert len(capped["results"]) == 500 and capped["next"]
        rest = ok(world.ours.api.get(capped["next"]))
        assert rest["results"] and rest["previous"]
        assert not set(ids(capped["results"])) & set(ids(rest["results"]))

    @pytest.mark.parametrize(
        "page_size", ["0", "-1", "abc", "1.5", "1e3", str(10**30), "²", " 5", "0x10"]
    )
    def test_an_invalid_page_size_is_a_400_problem(self, world, page_size):
        response = world.ours.api.get(self.list_url, {"page_size": page_size})
        assert pointers(assert_problem(response, 400, "invalid")) == {"/page_size"}

    def invalid_cursors(self, world: World) -> dict[str, str]:
        def encoded(payload: Any) -> str:
            return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

        ordering = self.default_ordering
        last_id = "00000000-0000-0000-0000-000000000000"
        return {
            "garbage": "not a cursor",
            "not base64": "!!!",
            "not JSON": base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
            "JSON list": encoded([1, 2]),
            "missing members": encoded({"d": "next"}),
            "unknown direction": encoded({"d": "up", "o": ordering, "v": 1, "i": last_id}),
            "another ordering": encoded({"d": "next", "o": "-nothing", "v": 1, "i": last_id}),
            "id not a uuid": encoded({"d": "next", "o": ordering, "v": 1, "i": "7"}),
            "value of an unknown kind": encoded(
                {"d": "next", "o": ordering, "v": {"x": "1"}, "i": last_id}
            ),
            "value a list": encoded({"d": "next", "o": ordering, "v": [1], "i": last_id}),
            "value a bad date": encoded(
                {"d": "next", "o": ordering, "v": {"dt": "yesterday"}, "i": last_id}
            ),
            "value of the wrong type": encoded(
                {"d": "next", "o": ordering, "v": 12345, "i": last_id}
            ),
            "value a boolean": encoded({"d": "prev", "o": ordering, "v": True, "i": last_id}),
            "value a naive time": encoded(
                {"d": "next", "o": ordering, "v": {"dt": "2025-01-01T00:00:00"}, "i": last_id}
            ),
            "value a time outside UTC's range": encoded(
                {"d": "next", "o": ordering, "v": {"dt": "0001-01-01T00:00:00+14:00"}, "i": last_id}
            ),
            "value with a NUL": encoded({"d": "next", "o": ordering, "v": "1C\x00", "i": last_id}),
            "value null": encoded({"d": "next", "o": ordering, "v": None, "i": last_id}),
            "non-ASCII": "é" * 10,
            "huge": "A" * 20_000,
        }

    def test_an_invalid_cursor_is_a_400_problem(self, world):
        self.make_many(world, world.ours, 3)
        for case, cursor in self.invalid_cursors(world).items():
            response = world.ours.api.get(self.list_url, {"cursor": cursor})
            assert response.status_code == 400, (case, response.content[:500])
            body = assert_problem(response, 400, "invalid")
            assert pointers(body) == {"/cursor"}, case

    # -- filters -----------------------------------------------------------------------------
    def test_a_declared_filter_applies_a_valid_value(self, world, probe):
        row = self.make(world, world.ours)
        page = self.list_page(
            world.ours.api, page_size=500, **{probe.name: probe.value(world, row)}
        )
        assert (str(row.pk) in ids(page["results"])) == probe.matches, probe

    def test_a_declared_filter_refuses_a_malformed_value(self, world, probe):
        self.make(world, world.ours)
        response = world.ours.api.get(self.list_url, {probe.name: probe.invalid})
        body = assert_problem(response, 400, "invalid")
        assert pointers(body) == {probe.pointer or f"/{probe.name}"}, body

    def listed(self, world: World, query: str) -> list[str]:
        return ids(ok(world.ours.api.get(f"{self.list_url}?page_size=500&{query}"))["results"])

    def test_a_multi_value_filter_takes_commas_repeats_and_both(self, world, multi_probe):
        row = self.make(world, world.ours)
        name, one, other = multi_probe.name, multi_probe.value(world, row), multi_probe.several
        assert str(row.pk) not in self.listed(world, f"{name}={other}")

        comma = self.listed(world, f"{name}={one},{other}")
        assert str(row.pk) in comma
        assert self.listed(world, f"{name}={other},{one}") == comma
        assert self.listed(world, f"{name}={one}&{name}={other}") == comma
        assert self.listed(world, f"{name}={other}&{name}={other},{one}") == comma
        # Spaces after commas and blank members, as people type them, are tolerated.
        assert self.listed(world, f"{name}={other},%20{one},") == comma

    def test_a_multi_value_filter_names_an_unknown_member_and_the_allowed_values(
        self, world, multi_probe
    ):
        row = self.make(world, world.ours)
        name, one = multi_probe.name, multi_probe.value(world, row)
        bad = multi_probe.invalid
        for query in (f"{name}={one},{bad}", f"{name}={one}&{name}={bad}"):
            response = world.ours.api.get(f"{self.list_url}?{query}")
            error = only_error(assert_problem(response, 400, "invalid"))
            assert error["pointer"] == f"/{name}", error
            assert repr(bad) in error["detail"], error
            assert one not in error["detail"].split("Choose from:")[0], error
            assert one in error["detail"].split("Choose from:")[1], error
            assert multi_probe.several in error["detail"], error

    def test_the_schema_documents_which_filters_take_several_values(self):
        parameters = list_parameters(self.list_url)
        several = {name for name, p in parameters.items() if p["schema"].get("type") == "array"}
        assert several == {probe.name for probe in self.filters if probe.several}
        for name in several:
            assert (parameters[name]["style"], parameters[name]["explode"]) == ("form", True)
            assert "separate them with commas" in parameters[name]["description"], name

    def test_a_time_filter_explains_a_plus_that_arrived_as_a_space(self, world, time_probe):
        row = self.make(world, world.ours)
        name = time_probe.name
        # Sent as typed, the + reaches the server as a space.
        response = world.ours.api.get(f"{self.list_url}?{name}=2020-01-01T00:00:00+08:00")
        error = only_error(assert_problem(response, 400, "invalid"))
        assert error["pointer"] == f"/{name}", error
        assert "%2B" in error["detail"] and "2019-12-31T16:00:00Z" in error["detail"], error
        # Percent-encoded, or in UTC with Z, the same time is applied.
        assert str(row.pk) in self.listed(world, f"{name}=2020-01-01T00:00:00%2B08:00")
        assert str(row.pk) in self.listed(world, f"{name}=2019-12-31T16:00:00Z")

    # -- authentication ----------------------------------------------------------------------
    def test_no_key_is_401_with_www_authenticate(self, world):
        row = self.make(world, world.ours)
        for url in (self.list_url, self.detail_url(row)):
            response = key_client().get(url)
            assert_problem(response, 401, "not_authenticated")
            assert response["WWW-Authenticate"] == "Api-Key"

    def bad_keys(self, world: World) -> dict[str, str]:
        revoked_row, revoked = api_key_create(
            organization_name=world.ours.organization.name, name="revoked"
        )
        revoked_row.revoked = True
        revoked_row.save()
        expired_row, expired = api_key_create(
            organization_name=world.ours.organization.name, name="expired"
        )
        expired_row.expiry_date = timezone.now() - dt.timedelta(minutes=1)
        expired_row.save()
        prefix, _, secret = world.ours.key.partition(".")
        return {
            "empty": "Api-Key ",
            "malformed": "Api-Key not-a-key",
            "no secret": f"Api-Key {prefix}",
            "secret one short": f"Api-Key {prefix}.{secret[:-1]}",
            "with a NUL": f"Api-Key {prefix}.{secret[:-1]}\x00",
            "not ASCII": f"Api-Key {prefix}.{secret[:-1]}é",
            "huge": "Api-Key " + "A" * 100_000,
            "unknown": f"Api-Key {'A' * 8}.{'B' * 32}",
            "known prefix, wrong secret": f"Api-Key {prefix}.{'C' * 32}",
            "revoked": f"Api-Key {revoked}",
            "expired": f"Api-Key {expired}",
        }

    def test_a_malformed_unknown_revoked_or_expired_key_is_401(self, world):
        row = self.make(world, world.ours)
        for case, header in self.bad_keys(world).items():
            for url in (self.list_url, self.detail_url(row)):
                response = APIClient().get(url, HTTP_AUTHORIZATION=header)
                assert response.status_code == 401, (case, url, response.content[:500])
                assert_problem(response, 401, "authentication_failed")
                assert response["WWW-Authenticate"] == "Api-Key", case

    def test_a_read_only_key_reads(self, world):
        row = self.make(world, world.ours)
        client = world.ours.read_only_client()
        assert str(row.pk) in ids(self.list_page(client, page_size=500)["results"])
        assert ok(client.get(self.detail_url(row)))["id"] == str(row.pk)

    # -- queries -----------------------------------------------------------------------------
    def queries_for_a_page(self, client: APIClient, page_size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            page = self.list_page(client, page_size=page_size)
        assert len(page["results"]) == page_size
        return len(captured)

    def test_a_list_page_costs_the_same_queries_for_5_rows_as_for_50(self, world):
        for _ in range(50):
            self.make(world, world.ours)
        few = self.queries_for_a_page(world.ours.api, 5)
        many = self.queries_for_a_page(world.ours.api, 50)
        assert few == many

    # -- action bodies -----------------------------------------------------------------------
    def test_an_action_body_with_an_unknown_field_is_a_400_that_writes_nothing(self, world):
        row, actions = self.actions(world, world.ours)
        with_body = [action for action in actions if action.writes and action.body is not None]
        if not with_body:
            pytest.skip("no action of this resource takes a body")
        before, counts = frozen(row), table_counts()

        for action in with_body:
            request = Request(
                action.method, f"{self.detail_url(row)}{action.suffix}", action.body | {UNKNOWN: 1}
            )
            error = only_error(assert_problem(request.send(world.ours.api), 400, "invalid"))
            assert (error["pointer"], error["code"]) == (f"/{UNKNOWN}", "unknown_field"), request
            for name in action.body:
                assert name in error["detail"], (request, error)

        assert frozen(row) == before
        assert table_counts() == counts


class TenancyContract:
    """For the resources of an organization: another organization's rows do not exist."""

    def foreign_requests(self, world: World, row: Model, actions: list[Action]) -> list[Request]:
        url = self.detail_url(row)
        requests = [Request("get", url), Request("head", url)]
        if self.writable:
            body = self.create_body(world)
            for if_match in ('"1"', "*"):
                headers = {"HTTP_IF_MATCH": if_match}
                requests += [
                    Request("patch", url, self.update_body(world), headers),
                    Request("put", url, body, headers),
                    Request("delete", url, None, headers),
                ]
        return requests + [
            Request(action.method, f"{url}{action.suffix}", action.body) for action in actions
        ]

    def test_another_organizations_object_is_not_found(self, world):
        theirs, actions = self.actions(world, world.theirs)
        before, counts = frozen(theirs), table_counts()

        for request in self.foreign_requests(world, theirs, actions):
            response = request.send(world.ours.api)
            if request.method == "head":
                assert response.status_code == 404, request
                continue
            assert_problem(response, 404, "not_found")

        assert frozen(theirs) == before
        assert table_counts() == counts
        # Their own key still sees it: the 404 was tenancy, not a broken row.
        ok(world.theirs.api.get(self.detail_url(theirs)))

    def test_a_list_never_shows_another_organizations_rows(self, world):
        ours = self.make(world, world.ours)
        theirs = self.make(world, world.theirs)
        self.make_many(world, world.theirs, 3)

        listed = ids(self.list_page(world.ours.api, page_size=500)["results"])
        assert str(ours.pk) in listed
        theirs_all = {
            str(pk)
            for pk in self.model._default_manager.filter(
                organization=world.theirs.organization
            ).values_list("pk", flat=True)
        }
        assert str(theirs.pk) in theirs_all
        assert not theirs_all & set(listed)
        # Filtered by their exporter, our list is empty rather than theirs.
        if any(probe.name == "exporter" for probe in self.filters):
            page = self.list_page(world.ours.api, exporter=str(world.theirs.exporter.pk))
            assert page["results"] == []


class WriteContract(ReadContract, TenancyContract):
    """What a read-write resource answers: create, update and delete with If-Match."""

    writable: ClassVar[bool] = True
    # Request fields the representation shows as sent.
    checked_fields: ClassVar[tuple[str, ...]] = ()
    # False: DELETE is not offered (405). Applications can be deleted, in draft only.
    deletable: ClassVar[bool] = True

    # -- hooks -------------------------------------------------------------------------------
    def create_body(self, world: World) -> dict:
        raise NotImplementedError

    def update_body(self, world: World) -> dict:
        """A PATCH that changes something visible."""
        raise NotImplementedError

    def replace_body(self, world: World, current: dict) -> dict:
        """A PUT that changes something after the PATCH: the create body again, undoing it."""
        return self.create_body(world)

    def nested_unknown(self, world: World) -> tuple[dict, str] | None:
        """A create body with an unknown field inside a nested object or list, and its pointer
        (None: the resource has no nested writable object)."""
        return None

    def read_only_changes(self, current: dict) -> dict[str, Any]:
        """Read-only fields, each with a value other than the one `current` shows."""
        return {
            "id": "00000000-0000-0000-0000-000000000000",
            "version": current["version"] + 1,
            "created_at": "2000-01-01T00:00:00Z",
        }

    def change_computed_fields(self, pk: Any) -> None:
        """Change what `Meta.computed_fields` shows, as the server does: without a new version."""
        pytest.skip("the resource has no computed fields")

    def create(self, world: World) -> tuple[dict, Any]:
        response = world.ours.api.post(self.list_url, self.create_body(world), format="json")
        return ok(response, 201), response

    def check_read_headers(self, response, row: Model) -> None:
        row.refresh_from_db()
        assert response["ETag"] == f'"{row.version}"'

    # -- create ------------------------------------------------------------------------------
    def test_create_answers_201_with_location_etag_and_the_representation(self, world):
        sent = self.create_body(world)
        response = world.ours.api.post(self.list_url, sent, format="json")

        body = ok(response, 201)
        assert {"id", "url", "created_at", "updated_at"} <= set(body)
        assert response["Location"] == body["url"]
        assert body["url"] == f"http://testserver{self.list_url}{body['id']}/"
        assert response["ETag"] == '"1"'
        for name in self.checked_fields:
            assert_shows(sent[name], body[name], f"/{name}")
        read = world.ours.api.get(response["Location"])
        assert ok(read) == body
        assert read["ETag"] == response["ETag"]
        row = self.model._default_manager.get(pk=body["id"])
        assert row.organization_id == world.ours.organization.pk

    # -- update ------------------------------------------------------------------------------
    def test_update_with_if_match_answers_the_new_version(self, world):
        created, _ = self.create(world)
        change = self.update_body(world)

        patched = world.ours.api.patch(created["url"], change, format="json", HTTP_IF_MATCH='"1"')
        body = ok(patched)
        assert patched["ETag"] == '"2"'
        for name, value in change.items():
            assert_shows(value, body[name], f"/{name}")
        assert body["updated_at"] >= created["updated_at"]

        replacement = self.replace_body(world, body)
        put = world.ours.api.put(created["url"], replacement, format="json", HTTP_IF_MATCH='W/"2"')
        assert ok(put)["id"] == created["id"]
        assert put["ETag"] == '"3"'
        assert world.ours.api.get(created["url"])["ETag"] == '"3"'

    def test_a_patch_that_changes_nothing_keeps_version_etag_and_writes_no_audit_row(self, world):
        created, _ = self.create(world)
        change = self.update_body(world)
        first = world.ours.api.patch(created["url"], change, format="json", HTTP_IF_MATCH='"1"')
        changed = ok(first)
        assert first["ETag"] == '"2"'
        row = self.model._default_manager.get(pk=created["id"])
        row_before, audit_rows = frozen(row), ObjectChange.objects.count()

        for same in (change, {}):
            again = world.ours.api.patch(created["url"], same, format="json", HTTP_IF_MATCH='"2"')
            body = ok(again)
            assert again["ETag"] == '"2"', same
            assert (body["version"], body["updated_at"]) == (2, changed["updated_at"]), same

        assert world.ours.api.get(created["url"])["ETag"] == '"2"'
        assert frozen(row) == row_before
        assert ObjectChange.objects.count() == audit_rows

    @pytest.mark.parametrize("method", ["patch", "put"])
    @pytest.mark.parametrize("if_match", [None, "", "  "])
    def test_an_update_without_if_match_is_428(self, world, method, if_match):
        created, _ = self.create(world)
        body = self.update_body(world) if method == "patch" else self.replace_body(world, created)
        headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
        row_before = frozen(self.model._default_manager.get(pk=created["id"]))

        response = getattr(world.ours.api, method)(created["url"], body, format="json", **headers)

        assert_problem(response, 428, "precondition_required")
        assert frozen(self.model._default_manager.get(pk=created["id"])) == row_before

    @pytest.mark.parametrize("method", ["patch", "put"])
    @pytest.mark.parametrize("if_match", ['"2"', '"0"', 'W/"99"', "not-an-etag", '"1" garbage'])
    def test_an_update_with_a_stale_if_match_is_412(self, world, method, if_match):
        created, _ = self.create(world)
        body = self.update_body(world) if method == "patch" else self.replace_body(world, created)
        row_before = frozen(self.model._default_manager.get(pk=created["id"]))

        response = getattr(world.ours.api, method)(
            created["url"], body, format="json", HTTP_IF_MATCH=if_match
        )

        assert_problem(response, 412, "precondition_failed")
        assert frozen(self.model._default_manager.get(pk=created["id"])) == row_before

    # -- delete ------------------------------------------------------------------------------
    def test_delete_needs_the_current_etag_then_the_object_is_gone(self, world):
        created, _ = self.create(world)
        url = created["url"]
        if not self.deletable:
            assert_problem(world.ours.api.delete(url, HTTP_IF_MATCH="*"), 405)
            assert self.model._default_manager.filter(pk=created["id"]).exists()
            return
        ok(world.ours.api.patch(url, self.update_body(world), format="json", HTTP_IF_MATCH='"1"'))

        assert_problem(world.ours.api.delete(url), 428, "precondition_required")
        assert_problem(world.ours.api.delete(url, HTTP_IF_MATCH='"1"'), 412, "precondition_failed")
        assert self.model._default_manager.filter(pk=created["id"]).exists()

        ok(world.ours.api.delete(url, HTTP_IF_MATCH='"2"'), 204)

        assert not self.model._default_manager.filter(pk=created["id"]).exists()
        assert_problem(world.ours.api.get(url), 404, "not_found")
        assert_problem(world.ours.api.delete(url, HTTP_IF_MATCH="*"), 404, "not_found")
        assert_problem(
            world.ours.api.patch(url, self.update_body(world), format="json", HTTP_IF_MATCH="*"),
            404,
            "not_found",
        )
        assert created["id"] not in ids(self.list_page(world.ours.api, page_size=500)["results"])

    # -- authorization -----------------------------------------------------------------------
    def test_a_read_only_key_cannot_write(self, world):
        row, actions = self.actions(world, world.ours)
        url = self.detail_url(row)
        read = world.ours.api.get(url)
        current, etag = ok(read), {"HTTP_IF_MATCH": read["ETag"]}
        writes = [
            Request("post", self.list_url, self.create_body(world)),
            Request("patch", url, self.update_body(world), etag),
            Request("put", url, self.replace_body(world, current), etag),
            Request("delete", url, None, etag),
            *(
                Request(action.method, f"{url}{action.suffix}", action.body)
                for action in actions
                if action.writes
            ),
        ]
        client = world.ours.read_only_client()
        before, counts = frozen(row), table_counts()

        for request in writes:
            assert_problem(request.send(client), 403, "permission_denied")

        assert frozen(row) == before
        assert table_counts() == counts

    def test_a_write_without_a_key_is_401(self, world):
        counts = table_counts()
        response = key_client().post(self.list_url, self.create_body(world), format="json")
        assert_problem(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Api-Key"
        assert table_counts() == counts

    # -- strict bodies -----------------------------------------------------------------------
    def refused(self, response, pointer: str, code: str) -> dict:
        """The one field error of a 400 for a field the resource does not accept."""
        error = only_error(assert_problem(response, 400, "invalid"))
        assert (error["pointer"], error["code"]) == (pointer, code), error
        return error

    @pytest.mark.parametrize("method", ["post", "put", "patch"])
    def test_an_unknown_field_is_a_400_naming_it_and_the_accepted_fields(self, world, method):
        created, response = self.create(world)
        location = response["Location"]
        counts, before = table_counts(), frozen(self.model._default_manager.get(pk=created["id"]))
        sent = {
            "post": self.create_body(world),
            "put": self.replace_body(world, created),
            "patch": self.update_body(world),
        }[method]
        url = self.list_url if method == "post" else location

        response = getattr(world.ours.api, method)(
            url, sent | {UNKNOWN: "red"}, format="json", HTTP_IF_MATCH='"1"'
        )

        error = self.refused(response, f"/{UNKNOWN}", "unknown_field")
        accepted = error["detail"].partition("accepted here:")[2]
        for name in self.create_body(world):
            assert name in accepted, (name, error)
        assert table_counts() == counts
        assert frozen(self.model._default_manager.get(pk=created["id"])) == before

    @pytest.mark.parametrize("method", ["post", "put"])
    def test_an_unknown_nested_field_is_a_400_at_its_pointer(self, world, method):
        nested = self.nested_unknown(world)
        if nested is None:
            pytest.skip("the resource has no nested writable object")
        body, pointer = nested
        created, response = self.create(world)
        counts, before = table_counts(), frozen(self.model._default_manager.get(pk=created["id"]))
        url = self.list_url if method == "post" else response["Location"]

        response = getattr(world.ours.api, method)(url, body, format="json", HTTP_IF_MATCH='"1"')

        self.refused(response, pointer, "unknown_field")
        assert table_counts() == counts
        assert frozen(self.model._default_manager.get(pk=created["id"])) == before

    def test_a_read_only_field_with_another_value_is_a_400_naming_it(self, world):
        created, response = self.create(world)
        location = response["Location"]
        current = ok(world.ours.api.get(location))
        counts, before = table_counts(), frozen(self.model._default_manager.get(pk=created["id"]))

        for name, value in self.read_only_changes(current).items():
            assert current[name] != value, name
            patch = world.ours.api.patch(
                location,
                self.update_body(world) | {name: value},
                format="json",
                HTTP_IF_MATCH='"1"',
            )
            error = self.refused(patch, f"/{name}", "read_only_field")
            assert "read-only" in error["detail"], error
            put = world.ours.api.put(
                location, current | {name: value}, format="json", HTTP_IF_MATCH='"1"'
            )
            self.refused(put, f"/{name}", "read_only_field")

        assert table_counts() == counts
        assert frozen(self.model._default_manager.get(pk=created["id"])) == before

    def test_create_takes_a_read_only_field_only_as_null(self, world):
        counts = table_counts()
        for name in ("id", "created_at"):
            response = world.ours.api.post(
                self.list_url, self.create_body(world) | {name: "x"}, format="json"
            )
            self.refused(response, f"/{name}", "read_only_field")
        assert table_counts() == counts

        ok(
            world.ours.api.post(
                self.list_url, self.create_body(world) | {"id": None}, format="json"
            ),
            201,
        )

    @pytest.mark.parametrize("method", ["put", "patch"])
    def test_a_get_then_put_or_patch_of_the_whole_representation_is_accepted(self, world, method):
        _, response = self.create(world)
        location = response["Location"]
        read = world.ours.api.get(location)
        current = ok(read)

        written = getattr(world.ours.api, method)(
            location, current, format="json", HTTP_IF_MATCH=read["ETag"]
        )

        body = ok(written)
        changed = {name for name in current if body[name] != current[name]}
        assert changed <= {"version", "updated_at"}, changed
        assert ok(world.ours.api.get(location)) == body

    def test_a_stale_copy_sent_back_whole_is_412_not_400(self, world):
        _, response = self.create(world)
        location = response["Location"]
        read = world.ours.api.get(location)
        stale = ok(read)
        ok(
            world.ours.api.patch(
                location, self.update_body(world), format="json", HTTP_IF_MATCH="*"
            )
        )
        before = frozen(self.model._default_manager.get(pk=stale["id"]))

        response = world.ours.api.put(location, stale, format="json", HTTP_IF_MATCH=read["ETag"])

        assert_problem(response, 412, "precondition_failed")
        assert frozen(self.model._default_manager.get(pk=stale["id"])) == before

    def test_a_round_trip_with_computed_fields_read_before_they_moved_is_accepted(self, world):
        created, response = self.create(world)
        location = response["Location"]
        read = world.ours.api.get(location)
        current = ok(read)
        self.change_computed_fields(created["id"])
        again = world.ours.api.get(location)
        assert ok(again) != current
        assert again["ETag"] == read["ETag"]  # the object has no new version

        ok(world.ours.api.put(location, current, format="json", HTTP_IF_MATCH=read["ETag"]))


class ReadOnlyContract(ReadContract):
    """A resource the API only reads: the writes it does not offer answer 405."""

    def test_writes_are_405_problems(self, world):
        row = self.make(world, world.ours)
        url = self.detail_url(row)
        counts = table_counts()
        for request in (
            Request("post", self.list_url, {}),
            Request("put", url, {}, {"HTTP_IF_MATCH": "*"}),
            Request("patch", url, {}, {"HTTP_IF_MATCH": "*"}),
            Request("delete", url, None, {"HTTP_IF_MATCH": "*"}),
        ):
            response = request.send(world.ours.api)
            assert_problem(response, 405, "method_not_allowed")
            assert request.method.upper() not in response["Allow"], request
        assert table_counts() == counts
