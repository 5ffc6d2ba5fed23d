"""The OpenAPI document as the tools of integrators read it.

- openapi-spec-validator, in OpenAPI 3.1 mode, accepts the committed openapi/v1.yaml and
  the schema the server serves.
- Every `default`, `enum` member, `const` and example fits the (sub)schema it belongs to.
  The line's `currency` once had `default: ''` next to `pattern: ^[A-Z]{3}$`, and the
  validator rejected the whole document.
- `info.version` is a plain semantic version: a generated client takes it as its package
  version, and `1.0.0 (v1)` made the client uninstallable.
- Operation ids and schema names read well as the function and class names of a client.
- A client that openapi-python-client generates from openapi/v1.yaml installs into a fresh
  venv and makes an authenticated call against a live server (`drill`: it runs pip).

Both tools are dev dependencies. Without them these tests are skipped locally, with a reason,
and fail when REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from packaging.version import Version
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from licensing.clock import application_clock
from licensing.models import Organization
from licensing.services.api_keys import api_key_create
from tests.factories import application_in_status
from tests.service_gates import service_unavailable

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "openapi" / "v1.yaml"
CLIENT_GENERATOR = Path(sys.executable).with_name("openapi-python-client")
CLIENT_PACKAGE = "export_license_tracker_api_client"  # what the generator makes of info.title
STEP_TIMEOUT_SECONDS = 600

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
PASCAL_CASE = re.compile(r"[A-Z][A-Za-z0-9]*")
METHODS = ("get", "put", "post", "patch", "delete")


def _tool_missing(name: str) -> NoReturn:
    service_unavailable(
        f"needs {name}, a dev dependency: pip install 'openapi-spec-validator>=0.9,<0.10' "
        "'openapi-python-client>=0.29,<0.30'"
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def _pointer_get(document: dict[str, Any], pointer: str) -> Any:
    """The node at a local `#/...` reference or JSON pointer."""
    node: Any = document
    for part in pointer.removeprefix("#").split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _resolved(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _pointer_get(document, node["$ref"])
    return node


# --- openapi-spec-validator -----------------------------------------------------------------


def spec_errors(document: dict[str, Any]) -> list[str]:
    """What openapi-spec-validator, in OpenAPI 3.1 mode, finds wrong with `document`."""
    try:
        from openapi_spec_validator import OpenAPIV31SpecValidator
    except ImportError:
        _tool_missing("openapi-spec-validator")
    return [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]


def test_openapi_spec_validator_accepts_the_committed_schema(document):
    assert document["openapi"] == "3.1.0"
    assert spec_errors(document) == []


@pytest.mark.django_db
def test_openapi_spec_validator_accepts_the_served_schema(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    served = yaml.safe_load(response.content)
    assert served["openapi"] == "3.1.0"
    assert spec_errors(served) == []


# --- defaults, enums and examples against their own schemas ---------------------------------

# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SUBSCHEMA = (
    "items",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
# Keys whose values are data, not document structure: never walked into.
_VALUE_KEYS = ("default", "enum", "const", "example", "examples")


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _schema_values(node: Any, pointer: str) -> Iterator[tuple[str, str, Any]]:
    """The values a schema and its subschemas claim fit them."""
    if not isinstance(node, dict):
        return
    if "default" in node:
        yield pointer, "default", node["default"]
    for index, member in enumerate(node.get("enum", [])):
        yield pointer, f"enum[{index}]", member
    if "const" in node:
        yield pointer, "const", node["const"]
    if "example" in node:
        yield pointer, "example", node["example"]
    if isinstance(node.get("examples"), list):
        for index, example in enumerate(node["examples"]):
            yield pointer, f"examples[{index}]", example
    for key in _SUBSCHEMA:
        if key in node:
            yield from _schema_values(node[key], f"{pointer}/{key}")
    for key in _SUBSCHEMA_LISTS:
        for index, branch in enumerate(node.get(key, [])):
            yield from _schema_values(branch, f"{pointer}/{key}/{index}")
    for key in _SUBSCHEMA_MAPS:
        for name, branch in node.get(key, {}).items():
            yield from _schema_values(branch, f"{pointer}/{key}/{_escape(name)}")


def schema_values(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """Every (pointer to a schema, what, value) where the document says the value fits it.

    Of each schema and subschema: `default`, each `enum` member, `const`, `example` and each
    of `examples`. Of each parameter, header and media type: `example` and the value of each
    of `examples`, which must fit its `schema`.
    """

    def walk(node: Any, pointer: str) -> Iterator[tuple[str, str, Any]]:
        if isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{pointer}/{index}")
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("schema"), dict):  # a parameter, a header or a media type
            schema = f"{pointer}/schema"
            yield from _schema_values(node["schema"], schema)
            if "example" in node:
                yield schema, "example", node["example"]
            for name, example in (node.get("examples") or {}).items():
                example = _resolved(document, example)
                if "value" in example:
                    yield schema, f"examples.{name}", example["value"]
        for key, value in node.items():
            if key == "schema" or key in _VALUE_KEYS or key.startswith("x-"):
                continue
            if pointer == "/components" and key == "schemas":
                for name, schema in value.items():
                    yield from _schema_values(schema, f"/components/schemas/{_escape(name)}")
                continue
            yield from walk(value, f"{pointer}/{_escape(key)}")

    yield from walk(document, "")


def values_outside_their_schema(document: dict[str, Any]) -> list[str]:
    """The values of `schema_values` that do not validate, as JSON Schema 2020-12 (OAS 3.1).

    Each is validated against the schema it sits in, looked up by its pointer in the whole
    document, so that `$ref`s resolve against its components. Formats are asserted.
    """
    uri = "urn:openapi-document"
    registry = Registry().with_resource(uri, DRAFT202012.create_resource(document))
    problems = []
    for pointer, what, value in schema_values(document):
        validator = Draft202012Validator(
            {"$ref": f"{uri}#{quote(pointer, safe='/~')}"},
            registry=registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        error = best_match(validator.iter_errors(value))
        if error is not None:
            problems.append(f"{pointer} {what} {value!r}: {error.message}")
    return problems


def test_every_default_enum_member_and_example_fits_its_own_schema(document):
    kinds = {what.split("[")[0].split(".")[0] for _, what, _ in schema_values(document)}
    assert {"default", "enum", "example", "examples"} <= kinds  # the walk reaches them all
    assert sum(1 for _ in schema_values(document)) > 500
    assert values_outside_their_schema(document) == []


def _tiny(schemas: dict[str, Any], paths: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tiny", "version": "1.0.0"},
        "paths": paths or {},
        "components": {"schemas": schemas},
    }


# The line's `currency` as drf-spectacular wrote it, the default inside the pattern's branch.
CURRENCY_DEFAULT_IN_ITS_BRANCH = _tiny(
    {
        "ApplicationLineRequest": {
            "type": "object",
            "properties": {
                "currency": {
                    "description": "ISO 4217 code, e.g. USD; needed with a value.",
                    "oneOf": [
                        {"type": "string", "default": "", "maxLength": 3, "pattern": "^[A-Z]{3}$"},
                        {"type": "string", "maxLength": 0},
                    ],
                }
            },
        }
    }
)


def test_the_check_finds_the_currency_default_that_broke_its_own_pattern():
    assert values_outside_their_schema(CURRENCY_DEFAULT_IN_ITS_BRANCH) == [
        "/components/schemas/ApplicationLineRequest/properties/currency/oneOf/0 default '': "
        "'' does not match '^[A-Z]{3}$'"
    ]
    # As the schema has it now: the default beside the oneOf, where the blank branch takes it.
    fixed = copy.deepcopy(CURRENCY_DEFAULT_IN_ITS_BRANCH)
    currency = fixed["components"]["schemas"]["ApplicationLineRequest"]["properties"]["currency"]
    currency["default"] = currency["oneOf"][0].pop("default")
    assert values_outside_their_schema(fixed) == []


def test_openapi_spec_validator_finds_it_too():
    assert spec_errors(CURRENCY_DEFAULT_IN_ITS_BRANCH) == ["'' does not match '^[A-Z]{3}$'"]


_UNIT = {"type": "string", "enum": ["kg", "g"]}


def _operation(**parts: Any) -> dict[str, Any]:
    return {"/things/{id}/": {"get": {"responses": {"200": {"description": "OK"}}, **parts}}}


@pytest.mark.parametrize(
    ("document", "where"),
    [
        pytest.param(
            _tiny(
                {
                    "Unit": _UNIT,
                    "Line": {
                        "properties": {
                            "unit": {"$ref": "#/components/schemas/Unit", "default": "tonnes"}
                        }
                    },
                }
            ),
            "/components/schemas/Line/properties/unit default 'tonnes'",
            id="default-outside-a-referenced-enum",
        ),
        pytest.param(
            _tiny({"Level": {"type": "integer", "enum": [1, "2"]}}),
            "/components/schemas/Level enum[1] '2'",
            id="enum-member-of-another-type",
        ),
        pytest.param(
            _tiny({"Day": {"type": "string", "format": "date", "examples": ["tomorrow"]}}),
            "/components/schemas/Day examples[0] 'tomorrow'",
            id="schema-example-in-a-wrong-format",
        ),
        pytest.param(
            _tiny(
                {},
                _operation(
                    parameters=[
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                            "example": "42",
                        }
                    ]
                ),
            ),
            "/paths/~1things~1{id}~1/get/parameters/0/schema example '42'",
            id="parameter-example",
        ),
        pytest.param(
            _tiny(
                {"Unit": _UNIT},
                _operation(
                    responses={
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Unit"},
                                    "examples": {"Heavy": {"value": "t"}},
                                }
                            },
                        }
                    }
                ),
            ),
            "/paths/~1things~1{id}~1/get/responses/200/content/application~1json/schema "
            "examples.Heavy 't'",
            id="media-type-example",
        ),
    ],
)
def test_the_check_finds_values_outside_their_schema_wherever_they_are(document, where):
    problems = values_outside_their_schema(document)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{where}: "), problems


# --- info.version -----------------------------------------------------------------------------


def test_info_version_is_a_plain_semantic_version(document):
    version = document["info"]["version"]
    assert SEMVER.fullmatch(version), version
    assert str(Version(version)) == version  # as packaging tools read it, unchanged
    assert document["info"]["x-api-version"] == "v1"  # the version of the URLs, apart


# --- names in generated code ------------------------------------------------------------------


def _is_list(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An array, or a page of one: an object whose `results` is an array."""
    schema = _resolved(document, schema)
    if schema.get("type") == "array":
        return True
    results = _resolved(document, schema.get("properties", {}).get("results", {}))
    return results.get("type") == "array"


def operation_id_problems(document: dict[str, Any]) -> list[str]:
    """Operation ids that would make poor function names in a generated client.

    Each must be unique and snake_case without a doubled word; an operation that answers a
    list (an array or a page of one) ends in `_list` and no other does; `_create` only on
    an operation that answers 201 Created.
    """
    problems = []
    seen: dict[str, str] = {}
    for name, operation in _operations(document):
        operation_id = operation["operationId"]
        if operation_id in seen:
            problems.append(f"{name}: {operation_id} is also {seen[operation_id]}'s")
        seen[operation_id] = name
        words = operation_id.split("_")
        if not SNAKE_CASE.fullmatch(operation_id) or any(a == b for a, b in pairwise(words)):
            problems.append(f"{name}: {operation_id} is not plain snake_case")
        responses = operation["responses"]
        success = next(
            _resolved(document, response)
            for status, response in responses.items()
            if status.startswith("2")
        )
        schema = success.get("content", {}).get("application/json", {}).get("schema")
        answers_a_list = schema is not None and _is_list(document, schema)
        if answers_a_list != operation_id.endswith("_list"):
            shape = "a list" if answers_a_list else "no list"
            problems.append(f"{name} answers {shape}: {operation_id}")
        if operation_id.endswith("_create") and "201" not in responses:
            problems.append(f"{name} creates nothing: {operation_id}")
    return problems


def schema_name_problems(document: dict[str, Any]) -> list[str]:
    """Schema names that would make poor class names: not PascalCase, or a word doubled."""
    problems = []
    for name in document["components"]["schemas"]:
        words = re.findall(r"[A-Z][a-z0-9]*", name)
        doubled = [a for a, b in pairwise(words) if a == b]
        if not PASCAL_CASE.fullmatch(name) or "Serializer" in name or doubled:
            problems.append(name)
    return problems


def test_operation_ids_read_well_as_function_names(document):
    assert operation_id_problems(document) == []


def test_schema_names_read_well_as_class_names(document):
    assert schema_name_problems(document) == []


def test_the_transition_and_history_names_are_the_ones_clients_expect(document):
    schemas = document["components"]["schemas"]
    assert {"ApplicationTransitionRequest", "ShipmentTransitionRequest"} <= set(schemas)
    operation_ids = {operation["operationId"] for _, operation in _operations(document)}
    assert {
        "license_applications_list",
        "license_applications_transitions_list",
        "license_applications_clock_stops_list",
        "shipments_transitions_list",
        "alerts_acknowledge",
        "webhook_endpoints_rotate_secret",
    } <= operation_ids


# --- a generated client, installed, against a live server -------------------------------------

CLIENT_SCRIPT = """
    import json
    import os

    from {package} import AuthenticatedClient
    from {package}.api.license_applications import license_applications_list
    from {package}.models import ApplicationStatusEnum, LicenseApplication
    from {package}.models import PaginatedLicenseApplicationList

    client = AuthenticatedClient(
        base_url=os.environ["API_URL"], token=os.environ["API_KEY"], prefix="Api-Key"
    )
    response = license_applications_list.sync_detailed(client=client)
    page = response.parsed
    assert isinstance(page, PaginatedLicenseApplicationList), (response.status_code, response.content)
    assert all(isinstance(each, LicenseApplication) for each in page.results)
    print(json.dumps({{
        "status_code": response.status_code,
        "applications": [
            {{
                "id": str(each.id),
                "status_is_the_enum": each.status is ApplicationStatusEnum.UNDER_REVIEW,
                "authority_reference": each.authority_reference,
                "exporter": str(each.exporter),
                "items": [line.item for line in each.lines],
                "statutory_deadline": each.statutory_deadline.isoformat(),
                "clock_is_running": each.wait.is_running,
            }}
            for each in page.results
        ],
    }}))
"""


def _run(command: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_SECONDS,
        check=False,
        **kwargs,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command[:3]))} ... failed ({result.returncode}):\n"
        f"{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    )
    return result


@pytest.mark.drill
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_generated_client_installs_and_makes_an_authenticated_call(live_server, tmp_path):
    if not CLIENT_GENERATOR.is_file():
        _tool_missing(f"openapi-python-client at {CLIENT_GENERATOR}")

    # Generate from the committed file, failing on any warning (an operation or a model the
    # generator had to skip). No post hooks: the client's formatting is not under test.
    config = tmp_path / "generator.yaml"
    config.write_text("post_hooks: []\n")
    source = tmp_path / "client"
    _run(
        [
            CLIENT_GENERATOR,
            "generate",
            "--path",
            SCHEMA_FILE,
            "--config",
            config,
            "--output-path",
            source,
            "--fail-on-warning",
        ]
    )
    assert (source / CLIENT_PACKAGE / "api" / "license_applications").is_dir()

    # Install it as an integrator would: pip, its metadata and version, a venv of its own.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", source])

    _, key = api_key_create(organization_name="Rheinland Motoren GmbH", name="generated-client")
    organization = Organization.objects.get(name="Rheinland Motoren GmbH")
    application = application_in_status("under_review", organization=organization)
    application.refresh_from_db()

    script = tmp_path / "call.py"
    script.write_text(textwrap.dedent(CLIENT_SCRIPT.format(package=CLIENT_PACKAGE)))
    result = _run(
        [python, script],
        cwd=tmp_path,
        env={**os.environ, "API_URL": live_server.url, "API_KEY": key},
    )
    answer = json.loads(result.stdout)
    assert answer == {
        "status_code": 200,
        "applications": [
            {
                "id": str(application.pk),
                "status_is_the_enum": True,
                "authority_reference": application.authority_reference,
                "exporter": str(application.exporter_id),
                "items": [line.item.control_code for line in application.lines.all()],
                "statutory_deadline": application_clock(application).statutory_deadline.isoformat(),
                "clock_is_running": True,
            }
        ],
    }
    assert application.authority_reference  # set by the walk: the value above means something
