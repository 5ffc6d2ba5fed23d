"""The OpenAPI contract: the committed openapi/v1.yaml is current, valid and complete.

`make schema` writes openapi/v1.yaml; the first test fails when the code has moved on
without it, so a change of the contract always shows in review as a change of that file.
"""

from __future__ import annotations

import difflib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

from licensing.api.v1.base import ResourceViewSet
from licensing.api.v1.urls import router

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "openapi" / "v1.yaml"
METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_CONTENT_TYPE = "application/problem+json"


def generated_schema() -> bytes:
    """What `make schema` writes, generated in this process."""
    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={})


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def operations(schema: dict[str, Any]):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", method, operation


def resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = schema["components"][kind][name]
    return node


def test_the_committed_schema_is_current():
    committed = SCHEMA_FILE.read_bytes()
    current = generated_schema()
    if committed != current:
        diff = difflib.unified_diff(
            committed.decode().splitlines(),
            current.decode().splitlines(),
            "openapi/v1.yaml (committed)",
            "openapi/v1.yaml (from the code)",
            lineterm="",
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(f"openapi/v1.yaml is out of date: run make schema.\n{shown}")


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    # The `make schema` command itself: it raises on a warning or an invalid schema.
    call_command(
        "spectacular",
        "--api-version",
        "v1",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "v1.yaml"),
    )
    assert yaml.safe_load((tmp_path / "v1.yaml").read_text())["openapi"] == "3.1.0"


def test_every_operation_has_a_summary_a_description_and_its_problem_answers(schema):
    for name, method, operation in operations(schema):
        assert operation.get("summary"), name
        assert operation.get("description"), name
        responses = operation["responses"]
        for status in ("400", "401", "403", "429"):
            assert status in responses, f"{name} does not document {status}"
        if method != "get":
            assert "409" in responses, name
        if method in ("put", "post", "patch"):
            assert {"413", "415", "422"} <= set(responses), name
        for status, response in responses.items():
            response = resolved(schema, response)
            if status.startswith("2"):
                assert "X-Request-ID" in response["headers"], name
                continue
            content = response["content"]
            assert list(content) == [PROBLEM_CONTENT_TYPE], f"{name} {status}"
            assert content[PROBLEM_CONTENT_TYPE]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
            assert "X-Request-ID" in response["headers"], f"{name} {status}"
        assert "Retry-After" in resolved(schema, responses["429"])["headers"], name
        assert "WWW-Authenticate" in resolved(schema, responses["401"])["headers"], name


def test_the_problem_schema_is_rfc_9457(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert problem["properties"]["type"]["format"] == "uri"
    assert problem["properties"]["status"]["type"] == "integer"
    assert set(problem["required"]) >= {"type", "title", "status", "detail", "instance"}
    assert set(problem["properties"]["errors"]["items"]["required"]) == {
        "pointer",
        "detail",
        "code",
    }
    for extra in ("allowed_transitions", "current_status", "shortfalls", "request_id"):
        assert extra in problem["properties"]


def test_the_standard_actions_declare_their_headers(schema):
    resources = [
        f"/api/v1/{prefix}/"
        for prefix, viewset, _ in router.registry
        if issubclass(viewset, ResourceViewSet)
    ]
    assert "/api/v1/exporters/" in resources
    for path, item in schema["paths"].items():
        match = re.fullmatch(r"(/api/v1/[^/]+/)(\{[^}]+\}/)?", path)
        if not match or match.group(1) not in resources:
            continue  # custom actions and other views say for themselves
        for method, operation in item.items():
            name = f"{method.upper()} {path}"
            headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
            responses = operation["responses"]
            success = resolved(schema, next(r for s, r in responses.items() if s.startswith("2")))
            if method in ("put", "patch", "delete"):
                assert headers["If-Match"]["required"] is True, name
                assert {"412", "428"} <= set(responses), name
            if method == "post":
                assert headers["Idempotency-Key"]["required"] is False, name
                assert {"ETag", "Location"} <= set(success["headers"]), name
            if method in ("put", "patch") or (method == "get" and match.group(2)):
                assert "ETag" in success["headers"], name
            if method in ("get", "post"):
                assert "If-Match" not in headers, name


def test_if_match_always_comes_with_412_and_428(schema):
    for name, _, operation in operations(schema):
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        if "If-Match" in headers:
            assert {"412", "428"} <= set(operation["responses"]), name


def test_the_api_key_is_an_api_key_security_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    for name, _, operation in operations(schema):
        assert {"ApiKeyAuth": []} in operation["security"], name


def _examples(media: dict[str, Any]) -> list[Any]:
    return [example["value"] for example in media.get("examples", {}).values()]


def test_every_body_and_path_parameter_has_an_example_that_fits_its_schema(schema):
    checked = 0
    for name, _, operation in operations(schema):
        media_types: list[tuple[str, dict[str, Any]]] = []
        if "requestBody" in operation:
            media_types += [("request", m) for m in operation["requestBody"]["content"].values()]
        for status, response in operation["responses"].items():
            for media in resolved(schema, response).get("content", {}).values():
                media_types.append((status, media))
        for where, media in media_types:
            values = _examples(media)
            assert values, f"{name} {where} has no example"
            for value in values:
                _assert_fits(schema, media["schema"], value, f"{name} {where}")
                checked += 1
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert "example" in parameter, f"{name} {parameter['name']}"
                _assert_fits(schema, parameter["schema"], parameter["example"], name)
    assert checked > 100


def _assert_fits(schema: dict[str, Any], part: dict[str, Any], value: Any, where: str) -> None:
    # The part's $refs point into the document: give the validator the document's components.
    validator = jsonschema.Draft202012Validator(
        {**part, "components": schema["components"]},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]
    assert not errors, f"the example of {where} does not fit its schema: {errors[:3]}"


def test_the_registered_examples_show_the_domain(schema):
    exporter = schema["components"]["schemas"]["Exporter"]
    assert exporter  # the component the example below documents
    create = schema["paths"]["/api/v1/exporters/"]["post"]
    (example,) = _examples(create["requestBody"]["content"]["application/json"])
    assert example["registration_number"] == "91350100M000100Y43"
    assert example["country"] == "CN"
    item = schema["paths"]["/api/v1/controlled-items/{control_code}/"]["get"]
    (example,) = _examples(item["responses"]["200"]["content"]["application/json"])
    assert example["control_code"] == "1C905"
    assert example["authority"] == "CN-MOFCOM"


def test_a_create_links_to_the_operations_on_what_it_created(schema):
    created = schema["paths"]["/api/v1/exporters/"]["post"]["responses"]["201"]
    links = created["links"]
    assert links["exporters_retrieve"]["parameters"] == {"id": "$response.body#/id"}
    assert links["exporters_partial_update"]["parameters"] == {
        "id": "$response.body#/id",
        "header.If-Match": "$response.header.ETag",
    }
    listed = schema["paths"]["/api/v1/authorities/"]["get"]["responses"]["200"]["links"]
    assert listed["authorities_retrieve"]["parameters"] == {
        "code": "$response.body#/results/0/code"
    }


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.django_db
def test_the_schema_is_served_and_matches_the_committed_file(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(response.content) == yaml.safe_load(SCHEMA_FILE.read_bytes())


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_the_docs_are_served_from_local_static_files(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    parser = _Links()
    parser.feed(html)
    static = "/" + settings.STATIC_URL.lstrip("/")
    assets = [url for url in parser.urls if url.startswith(static)]
    assert any("drf_spectacular_sidecar" in url for url in assets), f"{page} has no sidecar"
    for url in assets:
        assert finders.find(url.removeprefix(static)), f"{page} links {url}: no app ships it"
    for host in ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "googleapis.com"):
        assert host not in html, f"{page} loads from {host}"
    for url in parser.urls:
        assert not re.match(r"^(https?:)?//", url), f"{page} links {url}, not a local file"
