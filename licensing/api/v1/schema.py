"""OpenAPI generation for v1: the contract every operation states without a decorator.

`ProblemAwareAutoSchema` (DEFAULT_SCHEMA_CLASS) derives from the view alone what the shared
base classes do (licensing.api.v1.base, core.api): the problem+json answers, the
Idempotency-Key, If-Match, ETag and X-Request-ID headers, a summary and a description.
`postprocess_v1` (a POSTPROCESSING_HOOKS entry) then gives every request body, response and
path parameter an example: from `EXAMPLES`, keyed by component name, and generated from the
component's schema for anything not registered, so a new resource is documented as soon as
its URLs are registered. `@extend_schema` on a view still wins over everything derived here.

Which problem answers an operation lists, and why (all are `application/problem+json`):
- 400, 401, 403, 429 on every operation: malformed query or headers, a missing or unknown
  key, a read-only key that writes (or a user acting for no organization), the rate limit.
- 404 where the path names an object: another organization's ids answer 404 too.
- 409 on writes: a state that forbids the change, an Idempotency-Key still in use, a
  delete of an object that others refer to.
- 413, 415 and 422 where a body is sent: the size limit, a body that is not JSON, a domain
  rule (quantity, license validity) or an Idempotency-Key reused with another body.
- 412 and 428 where If-Match is read: a stale ETag; a missing one (or, where the header
  is optional, an empty one). The standard PUT, PATCH and DELETE require it; a custom
  action takes it when its handler calls `expected_version` or declares the header. A GET
  or a create has no version to match.
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import uritemplate
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiParameter
from inflection import singularize

from core.api.idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH, REPLAYED_HEADER, idempotent
from core.api.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPES
from core.request_id import REQUEST_ID_HEADER
from licensing.api.v1.base import ResourceViewSet

# Examples show this host; it is reserved for documentation (RFC 2606).
EXAMPLE_ORIGIN = "https://exports.example.com"
EXAMPLE_REQUEST_ID = "4be1c9b0a4f34d0d9a1c2e7f5b6d8a90"

PROBLEM_COMPONENT = "Problem"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = ("POST", "PUT", "PATCH")
# What core.api.conditional.expected_version understands: `*`, or one (weak) ETag.
IF_MATCH_PATTERN = r'^(\*|(W/)?"[0-9]{1,18}")$'
# Standard actions that answer one object with its ETag (see ResourceViewSet.represent).
ETAG_ACTIONS = ("retrieve", "create", "update", "partial_update")


# --- problem+json -----------------------------------------------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "RFC 9457 problem details, the body of every 4xx and 5xx answer. `type` resolves to a "
        "description of the problem; `code` is its last path segment. Domain errors may add "
        "members that say what is allowed, e.g. `allowed_transitions`."
    ),
    "properties": {
        "type": {
            "type": "string",
            "format": "uri",
            "description": "Identifies the problem type; GET it for a description.",
        },
        "title": {"type": "string", "description": "Short summary of the problem type."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong with this request."},
        "instance": {"type": "string", "description": "The path (and query) of the request."},
        "code": {
            "type": "string",
            "description": "Machine-readable problem code: "
            + ", ".join(f"`{code}`" for code in PROBLEM_TYPES)
            + ".",
        },
        "request_id": {
            "type": "string",
            "description": "The request id, also in `X-Request-ID`; quote it in reports.",
        },
        "errors": {
            "type": "array",
            "description": "Field errors, each at a JSON pointer into the request body.",
            "items": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer, e.g. /lines/0"},
                    "detail": {"type": "string"},
                    "code": {"type": "string"},
                },
                "required": ["pointer", "detail", "code"],
            },
        },
        "current_status": {
            "type": "string",
            "description": "With `invalid_transition`: the status the object is in.",
        },
        "allowed_transitions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "With `invalid_transition`: the statuses it may move to.",
        },
        "shortfalls": {
            "type": "array",
            "description": "With `quantity_exceeded`: each item the license does not cover.",
            "items": {
                "type": "object",
                "properties": {
                    "item": {"type": "string", "description": "Control code."},
                    "remaining": {"type": "string", "format": "decimal"},
                    "requested": {"type": "string", "format": "decimal"},
                    "unit": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status", "detail", "instance", "code"],
}

HEADERS: dict[str, dict[str, Any]] = {
    REQUEST_ID_HEADER: {
        "description": "The request id: the client's own when it sent a plain one "
        "(up to 128 of `A-Z a-z 0-9 . _ : -`), otherwise a new one.",
        "schema": {"type": "string"},
        "required": True,
    },
    "ETag": {
        "description": "The object's version; send it back in If-Match to change the object.",
        "schema": {"type": "string", "pattern": r'^(W/)?"\d+"$'},
        "required": True,
    },
    "Location": {
        "description": "URL of the created object.",
        "schema": {"type": "string", "format": "uri"},
        "required": True,
    },
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before the next request.",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme: `Api-Key`.",
        "schema": {"type": "string"},
        "required": True,
    },
}


def _problem(code: str, status: int, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": f"{EXAMPLE_ORIGIN}/api/problems/{code}",
        "title": PROBLEM_TYPES[code][0],
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": EXAMPLE_REQUEST_ID,
    }
    body.update(extra)
    return body


_EXPORTER_PATH = "/api/v1/exporters/3f1c2a9e-5b7d-4c1e-9a2b-6d8e0f4a7c15/"
_APPLICATION_PATH = "/api/v1/applications/7c2e4b1a-9d3f-4e8a-b6c5-1f0a2d3e4b5c/"
_UNKNOWN_ESCALATED = (
    "Unknown field. Did you mean is_escalated? The fields accepted here: exporter, authority, "
    "license_type, end_user, end_use, destination_country, lines, is_escalated, "
    "involves_watch_listed_party, authority_reference."
)

# status -> (component name, description, extra headers, {example name: (summary, body)}).
PROBLEM_RESPONSES: dict[int, tuple[str, str, tuple[str, ...], dict[str, tuple[str, Any]]]] = {
    400: (
        "BadRequest",
        "The request is malformed: a field, parameter or header is invalid, or the body has a "
        "field the operation does not accept: an unknown one, or a read-only one with another "
        "value than a GET shows (see `errors`).",
        (),
        {
            "invalid_fields": (
                "A field is invalid",
                _problem(
                    "invalid_fields",
                    400,
                    "/registration_number: The check character is wrong: expected '3', got '4'.",
                    "/api/v1/exporters/",
                    errors=[
                        {
                            "pointer": "/registration_number",
                            "detail": "The check character is wrong: expected '3', got '4'.",
                            "code": "invalid_fields",
                        }
                    ],
                ),
            ),
            "unknown_field": (
                "A field the resource does not have",
                _problem(
                    "invalid",
                    400,
                    f"/escalated: {_UNKNOWN_ESCALATED}",
                    "/api/v1/license-applications/7c2e4b1a-9d3f-4e8a-b6c5-1f0a2d3e4b5c/",
                    errors=[
                        {
                            "pointer": "/escalated",
                            "detail": _UNKNOWN_ESCALATED,
                            "code": "unknown_field",
                        }
                    ],
                ),
            ),
            "invalid": (
                "A parameter is invalid",
                _problem(
                    "invalid",
                    400,
                    "/page_size: A whole number from 1 to 500.",
                    "/api/v1/exporters/?page_size=0",
                    errors=[
                        {
                            "pointer": "/page_size",
                            "detail": "A whole number from 1 to 500.",
                            "code": "invalid",
                        }
                    ],
                ),
            ),
        },
    ),
    401: (
        "Unauthorized",
        "No API key was sent, or it is unknown, revoked or expired.",
        ("WWW-Authenticate",),
        {
            "not_authenticated": (
                "No key sent",
                _problem(
                    "not_authenticated",
                    401,
                    "Authentication credentials were not provided.",
                    "/api/v1/exporters/",
                ),
            ),
        },
    ),
    403: (
        "Forbidden",
        "The key may not do this, e.g. a read-only key that writes.",
        (),
        {
            "permission_denied": (
                "Read-only key",
                _problem(
                    "permission_denied",
                    403,
                    "This API key is read-only; writes need a read-write key.",
                    "/api/v1/exporters/",
                ),
            ),
        },
    ),
    404: (
        "NotFound",
        "No such object in your organization.",
        (),
        {
            "not_found": (
                "Unknown id",
                _problem(
                    "not_found", 404, "No such resource in your organization.", _EXPORTER_PATH
                ),
            ),
        },
    ),
    409: (
        "Conflict",
        "The object's state does not allow this, or a request with the same "
        "Idempotency-Key is still running.",
        (),
        {
            "invalid_transition": (
                "A status change the workflow does not allow",
                _problem(
                    "invalid_transition",
                    409,
                    "Cannot move from 'draft' to 'approved'. Allowed from 'draft': submitted, "
                    "withdrawn.",
                    f"{_APPLICATION_PATH}transitions/",
                    current_status="draft",
                    allowed_transitions=["submitted", "withdrawn"],
                ),
            ),
            "state_conflict": (
                "An exporter that others refer to",
                _problem(
                    "state_conflict",
                    409,
                    "This exporter is referred to by license applications or shipments and "
                    "cannot be deleted.",
                    _EXPORTER_PATH,
                ),
            ),
            "idempotency_key_in_use": (
                "The first request with this key is still running",
                _problem(
                    "idempotency_key_in_use",
                    409,
                    "The first request with Idempotency-Key 'c0a8e6f2-5d1b' is still running.",
                    "/api/v1/exporters/",
                ),
            ),
        },
    ),
    412: (
        "PreconditionFailed",
        "If-Match does not match: the object changed since you read it. GET it again.",
        (),
        {
            "precondition_failed": (
                "Stale ETag",
                _problem(
                    "precondition_failed",
                    412,
                    "This exporter was changed by someone else (you sent version 3); read it again "
                    "and retry.",
                    _EXPORTER_PATH,
                ),
            ),
        },
    ),
    413: (
        "ContentTooLarge",
        "The request body is over the documented limit.",
        (),
        {
            "payload_too_large": (
                "Body too large",
                _problem(
                    "payload_too_large",
                    413,
                    "The request body is 2097152 bytes; the limit is 1048576 bytes.",
                    "/api/v1/exporters/",
                ),
            ),
        },
    ),
    415: (
        "UnsupportedMediaType",
        "The body is not `application/json`.",
        (),
        {
            "unsupported_media_type": (
                "Form data sent",
                _problem(
                    "unsupported_media_type",
                    415,
                    'Unsupported media type "application/x-www-form-urlencoded" in request.',
                    "/api/v1/exporters/",
                ),
            ),
        },
    ),
    422: (
        "UnprocessableContent",
        "A domain rule refuses the request, or its Idempotency-Key was used with another body.",
        (),
        {
            "idempotency_key_reused": (
                "Key reused with another body",
                _problem(
                    "idempotency_key_reused",
                    422,
                    "Idempotency-Key 'c0a8e6f2-5d1b' was first used with a different request; "
                    "use a new key.",
                    "/api/v1/exporters/",
                ),
            ),
            "quantity_exceeded": (
                "More than the license has left",
                _problem(
                    "quantity_exceeded",
                    422,
                    "1C905: 120 kg remaining on the license, 250 kg requested.",
                    "/api/v1/shipments/",
                    shortfalls=[
                        {"item": "1C905", "remaining": "120", "requested": "250", "unit": "kg"}
                    ],
                ),
            ),
        },
    ),
    428: (
        "PreconditionRequired",
        "If-Match is missing: send the ETag of your last GET.",
        (),
        {
            "precondition_required": (
                "No If-Match",
                _problem(
                    "precondition_required",
                    428,
                    "Send the ETag of your last GET in If-Match, so that you do not overwrite a "
                    "change you have not seen.",
                    _EXPORTER_PATH,
                ),
            ),
        },
    ),
    429: (
        "TooManyRequests",
        "Over the rate limit of your key: wait for `Retry-After` seconds.",
        ("Retry-After",),
        {
            "throttled": (
                "Rate limit",
                _problem(
                    "throttled",
                    429,
                    "Request was throttled. Expected available in 12 seconds.",
                    "/api/v1/exporters/",
                ),
            ),
        },
    ),
}


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _problem_response_component(status: int) -> dict[str, Any]:
    _, description, extra_headers, examples = PROBLEM_RESPONSES[status]
    return {
        "description": description,
        "headers": {name: _header_ref(name) for name in (REQUEST_ID_HEADER, *extra_headers)},
        "content": {
            PROBLEM_CONTENT_TYPE: {
                "schema": {"$ref": f"#/components/schemas/{PROBLEM_COMPONENT}"},
                "examples": {
                    name: {"summary": summary, "value": value}
                    for name, (summary, value) in examples.items()
                },
            }
        },
    }


# --- helpers on views ---------------------------------------------------------------------

# Every function `idempotent` returns shares its wrapper's code object.
_IDEMPOTENT_CODE = idempotent(lambda self, request: None).__code__  # type: ignore[arg-type]
# Docstrings of the shared bases describe the implementation, not the API.
_INTERNAL_MODULES = ("licensing.api.v1.base", "rest_framework", "django")


def _unwrapped(function: Any) -> Iterator[Any]:
    while function is not None:
        yield function
        function = getattr(function, "__wrapped__", None)


def _is_idempotent(function: Any) -> bool:
    return any(getattr(f, "__code__", None) is _IDEMPOTENT_CODE for f in _unwrapped(function))


def _references(function: Any, *names: str) -> bool:
    """Whether the handler's own code (under its decorators) calls one of `names`."""
    for f in _unwrapped(function):
        code = getattr(f, "__code__", None)
        if code is not None and set(names) & set(code.co_names):
            return True
    return False


def _model_field(field: Any) -> Any:
    """The model field a ModelSerializer field was built from, if any."""
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    source = getattr(field, "source", "") or ""
    if model is None or not source.isidentifier():
        return None
    try:
        return model._meta.get_field(source)
    except FieldDoesNotExist:
        return None


def _is_public_doc(obj: Any) -> bool:
    return not (getattr(obj, "__module__", "") or "").startswith(_INTERNAL_MODULES)


def _own_class_doc(view_class: type) -> str:
    for cls in view_class.__mro__:
        if not _is_public_doc(cls):
            break
        doc = cls.__dict__.get("__doc__")
        if doc:
            return inspect.cleandoc(doc)
    return ""


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


_ACTION_NOTES = {
    "list": "Paginated by cursor: follow `next` and `previous`; `page_size` sets the page "
    "length and `ordering` the sort.",
    "retrieve": "`ETag` carries the object's version, for `If-Match` on later changes.",
    "create": "Answers 201 with the object, its `ETag` and `Location`. Send an "
    "`Idempotency-Key` so that a retry after a lost answer does not create a second one. "
    "An unknown field gets 400, and so does a read-only field unless it is null.",
    "update": "Replaces every writable field. Send `If-Match` with the `ETag` of your last "
    "read: 428 without it, 412 when the object has changed since. Read-only fields may be "
    "sent back as a GET shows them, so a GET -> PUT round trip works; an unknown field, or a "
    "read-only one with another value, gets 400.",
    "partial_update": "Changes the fields sent. Send `If-Match` with the `ETag` of your last "
    "read: 428 without it, 412 when the object has changed since. An unknown field, or a "
    "read-only one with another value than a GET shows, gets 400.",
    "destroy": "Send `If-Match` with the `ETag` of your last read: 428 without it, 412 when "
    "the object has changed since.",
}


class ProblemAwareAutoSchema(AutoSchema):
    """AutoSchema that states the shared behaviour of the v1 views on every operation."""

    # -- what the view does --------------------------------------------------------------------
    @property
    def _action(self) -> str:
        return getattr(self.view, "action", None) or self.method_mapping[self.method.lower()]

    @property
    def _handler(self) -> Callable[..., Any] | None:
        return getattr(self.view, self._action, None)

    def _names(self) -> tuple[str, str]:
        """The resource's verbose name, singular and plural."""
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        if model is None:
            serializer_class = getattr(self.view, "serializer_class", None)
            model = getattr(getattr(serializer_class, "Meta", None), "model", None)
        if model is not None:
            return str(model._meta.verbose_name), str(model._meta.verbose_name_plural)
        basename = getattr(self.view, "basename", None) or self._tokenize_path()[-1]
        singular = singularize(basename.replace("-", " ").replace("_", " "))
        return singular, f"{singular}s"

    def _has_path_parameters(self) -> bool:
        return bool(uritemplate.variables(self.path))

    def _is_standard(self, *actions: str) -> bool:
        """Whether this is one of ResourceViewSet's own actions (ETag, If-Match, Location)."""
        return isinstance(self.view, ResourceViewSet) and self._action in actions

    def _if_match(self) -> str | None:
        """How the operation takes If-Match: "required", "optional" or None.

        The standard writes of ResourceViewSet require it; a custom action requires it when
        its handler calls `expected_version`, or declares it with @extend_schema.
        """
        if self._is_standard("update", "partial_update", "destroy"):
            return "required"
        for parameter in self.get_override_parameters():
            if isinstance(parameter, OpenApiParameter) and parameter.name == "If-Match":
                return "required" if parameter.required else "optional"
        if _references(self._handler, "expected_version"):
            return "required"
        return None

    def _accepts_idempotency_key(self) -> bool:
        return self.method == "POST" and _is_idempotent(self._handler)

    def _answers_etag(self) -> bool:
        """Whether a success carries ETag: the object's version, for a later If-Match."""
        if self._is_standard(*ETAG_ACTIONS):
            return True
        return _references(self._handler, "etag_for", "represent")

    def _problem_statuses(self) -> list[int]:
        statuses = [400, 401, 403, 429]
        if self._has_path_parameters():
            statuses.append(404)
        if self.method in WRITE_METHODS:
            statuses.append(409)
        if self.method in BODY_METHODS:
            statuses += [413, 415, 422]
        if self._if_match():
            # An empty If-Match counts as missing: 428 even where the header is optional.
            statuses += [412, 428]
        return sorted(statuses)

    def _insert_min_max(self, field: Any, content: dict[str, Any]) -> None:
        """Integer bounds of the column's type, whichever database generates the schema.

        Django bounds an integer field by the backend's range: SQLite's is 64 bits for every
        type, so the same field would read 0..32767 on PostgreSQL and 0..2**63-1 on SQLite.
        """
        super()._insert_min_max(field, content)
        model_field = _model_field(field)
        if not isinstance(model_field, models.IntegerField):
            return
        kind = model_field.get_internal_type()
        if kind not in BaseDatabaseOperations.integer_field_ranges:
            return
        backend = connection.ops.integer_field_range(kind)
        column = BaseDatabaseOperations.integer_field_ranges[kind]
        for key, index in (("minimum", 0), ("maximum", 1)):
            if content.get(key) == backend[index]:
                content[key] = column[index]

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        """Keep the default of a blank-allowed field next to its `oneOf`, not in a branch.

        For a field with `allow_blank` and a pattern (the line's `currency`), spectacular
        writes `oneOf: [{pattern, default: ""}, {maxLength: 0}]`: the blank default then
        breaks its own pattern, and validators reject the document
        (tfranzel/drf-spectacular#1517). Outside the `oneOf` it matches the blank branch.
        """
        super()._insert_field_validators(field, schema)
        branches = schema.get("oneOf", [])
        if branches and "default" in branches[0]:
            schema["default"] = branches[0].pop("default")

    # -- summary and description ---------------------------------------------------------------
    def get_summary(self) -> str | None:
        singular, plural = self._names()
        a = _article(singular)
        standard = {
            "list": f"List {plural}",
            "retrieve": f"Retrieve {a} {singular}",
            "create": f"Create {a} {singular}",
            "update": f"Replace {a} {singular}",
            "partial_update": f"Update {a} {singular}",
            "destroy": f"Delete {a} {singular}",
        }
        if self._action in standard:
            return standard[self._action]
        handler = self._handler
        doc = inspect.getdoc(handler) if handler is not None and _is_public_doc(handler) else None
        if doc:  # its first sentence
            return re.split(r"(?<=\.)\s", doc.splitlines()[0])[0].rstrip(".")
        words = self._action.replace("_", " ")
        if self.method == "POST":
            noun = singularize(words)
            return f"Record {_article(noun)} {noun}"
        if self.method == "GET":
            of = f" of {a} {singular}" if self._has_path_parameters() else ""
            return f"List the {words}{of}" if words.endswith("s") else f"Show the {words}{of}"
        return f"{words.capitalize()} ({singular})"

    def get_description(self) -> str:  # type: ignore[override]
        parts = [_own_class_doc(self.view.__class__)]
        handler = self._handler
        if handler is not None and _is_public_doc(handler):
            parts.append(inspect.getdoc(handler) or "")
        parts.append(_ACTION_NOTES.get(self._action, ""))
        return "\n\n".join(part for part in parts if part)

    # -- headers -------------------------------------------------------------------------------
    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        present = {(p.get("name"), p.get("in")) for p in parameters}
        if self._accepts_idempotency_key() and (IDEMPOTENCY_HEADER, "header") not in present:
            parameters.append(
                {
                    "in": "header",
                    "name": IDEMPOTENCY_HEADER,
                    "required": False,
                    "description": "A unique key per logical request (a UUID is fine). A retry "
                    "with the same key and body replays the first answer; the same key with "
                    "another body gets 422, and while the first is still running 409. Kept "
                    "for at least 24 hours.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                }
            )
        if self._if_match() == "required" and ("If-Match", "header") not in present:
            parameters.append(
                {
                    "in": "header",
                    "name": "If-Match",
                    "required": True,
                    "description": "The `ETag` of your last read of the object, or `*` for "
                    "any version. Missing: 428; stale: 412.",
                    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                }
            )
        return parameters

    def _register_headers(self, names: tuple[str, ...]) -> None:
        for name in names:
            self.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.HEADER, schema=HEADERS[name], object=name
                )
            )

    def _success_headers(self, status: str) -> tuple[str, ...]:
        names = [REQUEST_ID_HEADER]
        if status != "204" and self._answers_etag():
            names.append("ETag")
        if status == "201" and self._is_standard("create"):
            names.append("Location")
        if self._accepts_idempotency_key():
            names.append(REPLAYED_HEADER)
        return tuple(names)

    # -- responses -----------------------------------------------------------------------------
    def _success_description(self, status: str) -> str:
        singular, plural = self._names()
        standard = {
            "list": f"A page of {plural}.",
            "create": f"The new {singular}.",
            "retrieve": f"The {singular}.",
            "update": f"The {singular} as changed.",
            "partial_update": f"The {singular} as changed.",
            "destroy": "Deleted.",
        }
        if self._action in standard:
            return standard[self._action]
        return {"201": "Created.", "204": "Done."}.get(status, "OK.")

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status, response in responses.items():
            if "$ref" in response or not str(status).startswith("2"):
                continue
            if not response.get("description"):
                response["description"] = self._success_description(str(status))
            names = self._success_headers(str(status))
            self._register_headers(names)
            headers = response.setdefault("headers", {})
            for name in names:
                headers.setdefault(name, _header_ref(name))
        for status in self._problem_statuses():
            if str(status) in responses:
                continue
            name = PROBLEM_RESPONSES[status][0]
            self._register_problem_response(status)
            responses[str(status)] = {"$ref": f"#/components/responses/{name}"}
        return dict(sorted(responses.items()))

    def _register_problem_response(self, status: int) -> None:
        self.registry.register_on_missing(
            ResolvedComponent(
                name=PROBLEM_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                schema=PROBLEM_SCHEMA,
                object=PROBLEM_COMPONENT,
            )
        )
        self._register_headers((REQUEST_ID_HEADER, *PROBLEM_RESPONSES[status][2]))
        name = PROBLEM_RESPONSES[status][0]
        self.registry.register_on_missing(
            ResolvedComponent(
                name=name,
                type=ResolvedComponent.RESPONSE,
                schema=_problem_response_component(status),
                object=name,
            )
        )


# --- examples -------------------------------------------------------------------------------
# Keyed by component name. A `FooRequest` or `PatchedFooRequest` without an entry of its own
# borrows `Foo`'s. Each entry is a hint fitted to the component's schema when the schema is
# built (`_ExampleBuilder.conform`): a field the schema lacks is dropped and a missing
# required one generated, so an entry never documents a field that does not exist.

EXPORTER_ID = "3f1c2a9e-5b7d-4c1e-9a2b-6d8e0f4a7c15"
APPLICATION_ID = "7c2e4b1a-9d3f-4e8a-b6c5-1f0a2d3e4b5c"
SHIPMENT_ID = "b4d9e7f2-1a3c-4b5d-8e6f-0a1b2c3d4e5f"
AUTHORITY_ID = "0d6f3c2b-8a1e-4f5d-9c7b-2e4a6b8d0f13"
ITEM_ID = "5a7c9e1b-3d5f-4a2c-8e0b-6f1d3a5c7e92"
STATUS_CHANGE_ID = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
CLOCK_STOP_ID = "9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"
RULE_ID = "2c4e6a8b-0d1f-4e3a-9b5c-7d9e1f3a5b7c"
ALERT_ID = "8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a10"


def _url(path: str) -> str:
    return f"{EXAMPLE_ORIGIN}/api/v1/{path}"


_END_USER = {
    "name": "Rheinland Motoren GmbH",
    "country": "DE",
    "address": "Industriestrasse 12, 47829 Krefeld, Germany",
}
_APPLICATION_LINE = {
    "item": "1C905",
    "quantity": "500.000",
    "unit": "kg",
    "value": "162500.00",
    "currency": "USD",
}
_SHIPMENT_LINE = {"item": "1C905", "quantity": "250.000", "unit": "kg"}
_ACTOR = "api-key:erp-sync (Xk3v9Qa2)"
_STATUS_CHANGE = {
    "id": STATUS_CHANGE_ID,
    "from_status": "accepted",
    "to_status": "under_review",
    "occurred_at": "2025-05-06T01:00:00Z",
    "recorded_at": "2025-05-06T03:12:45Z",
    "actor": _ACTOR,
    "note": "MOFCOM notice 2025-0431: review opened.",
    "request_id": EXAMPLE_REQUEST_ID,
}

# The forecast window of an open application (licensing.forecast): null once decided.
_EXPECTED_DECISION = {
    "p50": "2025-06-10",
    "p90": "2025-07-08",
    "basis": "authority_item",
    "sample_size": 64,
}

EXAMPLES: dict[str, Any] = {
    "Exporter": {
        "id": EXPORTER_ID,
        "url": _url(f"exporters/{EXPORTER_ID}/"),
        "name": "Fujian Changting Rare Earth Materials Co., Ltd.",
        "country": "CN",
        "registration_number": "91350100M000100Y43",
        "address": "No. 8 Jinlong Road, Changting County, Longyan, Fujian 366300, China",
        "contact_name": "Lin Xiaoyan",
        "contact_email": "export@changting-re.example.cn",
        "contact_phone": "+86 597 682 1234",
        "version": 3,
        "created_at": "2025-04-07T02:15:00Z",
        "updated_at": "2025-05-12T08:40:00Z",
    },
    "PatchedExporterRequest": {
        "contact_name": "Chen Hao",
        "contact_email": "chen.hao@changting-re.example.cn",
    },
    "LicensingAuthority": {
        "id": AUTHORITY_ID,
        "url": _url("authorities/CN-MOFCOM/"),
        "code": "CN-MOFCOM",
        "name": "Ministry of Commerce of the People's Republic of China",
        "country": "CN",
        "review_period": 45,
        "review_period_unit": "working_days",
        "clock_start_event": "accepted",
        "calendar_country": "CN",
        "time_zone": "Asia/Shanghai",
        "amendment_review_period": 20,
        "legal_basis": "Regulations on Export Control of Dual-Use Items (State Council Order "
        "No. 792), Art. 17-18",
        "created_at": "2025-01-02T00:00:00Z",
        "updated_at": "2025-04-04T00:00:00Z",
    },
    "ControlledItem": {
        "id": ITEM_ID,
        "url": _url("controlled-items/1C905/"),
        "control_code": "1C905",
        "name": "Dysprosium and dysprosium compounds",
        "material_family": "rare_earth",
        "hs_codes": [],
        "authority": "CN-MOFCOM",
        "announcement": "No. 18 [2025]",
        "code_verified": True,
        "control_periods": [
            {
                "announcement": "No. 18 [2025]",
                "starts_on": "2025-04-04",
                "suspended_from": None,
                "suspended_until": None,
                "ends_on": None,
            }
        ],
        "created_at": "2025-01-02T00:00:00Z",
        "updated_at": "2025-04-04T00:00:00Z",
    },
    "LicenseApplication": {
        "id": APPLICATION_ID,
        "url": _url(f"license-applications/{APPLICATION_ID}/"),
        "created_at": "2025-04-10T07:45:00Z",
        "updated_at": "2025-05-06T03:12:45Z",
        "version": 4,
        "status": "under_review",
        "exporter": EXPORTER_ID,
        "authority": "CN-MOFCOM",
        "license_type": "single",
        "end_user": _END_USER,
        "end_use": "Sintered NdFeB magnets for traction motors of electric buses.",
        "destination_country": "DE",
        "lines": [_APPLICATION_LINE],
        "is_escalated": False,
        "involves_watch_listed_party": False,
        "authority_reference": "MOFCOM-2025-0431",
        "license_number": "",
        "valid_from": None,
        "valid_until": None,
        "decision_note": "",
        "submitted_at": "2025-04-14T02:00:00Z",
        "accepted_at": "2025-04-16T01:30:00Z",
        "clock_started_at": "2025-04-16T01:30:00Z",
        "decided_at": None,
        "allowed_transitions": ["info_requested", "approved", "denied", "withdrawn"],
        "clock": {
            "elapsed": 12,
            "unit": "working_days",
            "clock_started_at": "2025-04-16T01:30:00Z",
            "paused_days": 0,
            "statutory_deadline": "2025-06-23",
            "is_running": True,
        },
        "expected_decision": _EXPECTED_DECISION,
    },
    "LicenseApplicationRequest": {
        "exporter": EXPORTER_ID,
        "authority": "CN-MOFCOM",
        "license_type": "single",
        "end_user": _END_USER,
        "end_use": "Sintered NdFeB magnets for traction motors of electric buses.",
        "destination_country": "DE",
        "lines": [_APPLICATION_LINE],
    },
    "PatchedLicenseApplicationRequest": {"authority_reference": "MOFCOM-2025-0431"},
    "ApplicationTransition": {
        "to": "accepted",
        "occurred_at": "2025-04-16T01:30:00Z",
        "note": "MOFCOM acceptance notice of 16 April 2025.",
        "authority_reference": "MOFCOM-2025-0431",
    },
    "StatusChange": _STATUS_CHANGE,
    "ClockStop": {
        "id": CLOCK_STOP_ID,
        "kind": "expert_review",
        "started_on": "2025-05-20",
        "ended_on": "2025-06-03",
        "note": "Expert review of the end-use statement.",
        "actor": _ACTOR,
        "request_id": EXAMPLE_REQUEST_ID,
        "created_at": "2025-05-20T06:00:00Z",
        "updated_at": "2025-06-03T07:30:00Z",
    },
    "ClockStopRequest": {
        "kind": "expert_review",
        "started_on": "2025-05-20",
        "note": "Expert review of the end-use statement.",
    },
    "ClockStopEnd": {"ended_on": "2025-06-03"},
    "ExpectedDecision": _EXPECTED_DECISION,
    "Shipment": {
        "id": SHIPMENT_ID,
        "url": _url(f"shipments/{SHIPMENT_ID}/"),
        "created_at": "2025-04-10T08:00:00Z",
        "updated_at": "2025-04-10T08:05:00Z",
        "version": 2,
        "status": "awaiting_license",
        "external_reference": "PO-2025-00417",
        "exporter": EXPORTER_ID,
        "consignee": _END_USER,
        "destination_country": "DE",
        "required_ship_date": "2025-07-15",
        "lines": [_SHIPMENT_LINE],
        "license_application": APPLICATION_ID,
        "license": {
            "id": APPLICATION_ID,
            "url": _url(f"license-applications/{APPLICATION_ID}/"),
            "status": "under_review",
            "license_number": "",
            "valid_until": None,
            "statutory_deadline": "2025-06-23",
        },
        "shipped_on": None,
        "delivered_on": None,
        "allowed_transitions": ["licensed", "on_hold", "cancelled"],
        "expected_decision": _EXPECTED_DECISION,
    },
    "ShipmentRequest": {
        "external_reference": "PO-2025-00417",
        "exporter": EXPORTER_ID,
        "consignee": _END_USER,
        "destination_country": "DE",
        "required_ship_date": "2025-07-15",
        "lines": [_SHIPMENT_LINE],
        "license_application": APPLICATION_ID,
    },
    "PatchedShipmentRequest": {"required_ship_date": "2025-08-01"},
    "ShipmentTransition": {
        "to": "shipped",
        "occurred_at": "2025-07-14T09:00:00Z",
        "note": "Loaded at Xiamen, bill of lading COSU6312345670.",
    },
    "ThresholdRule": {
        "id": RULE_ID,
        "url": _url(f"threshold-rules/{RULE_ID}/"),
        "name": "Dysprosium to Germany",
        "authority": "CN-MOFCOM",
        "item": "1C905",
        "material_family": "",
        "destination_country": "DE",
        "exporter": None,
        "levels": [
            {
                "level": "warning",
                "after": 30,
                "unit": "working_days",
                "at_statutory_deadline": False,
            },
            {
                "level": "critical",
                "after": 40,
                "unit": "working_days",
                "at_statutory_deadline": False,
            },
            {
                "level": "overdue",
                "after": None,
                "unit": "working_days",
                "at_statutory_deadline": True,
            },
        ],
        "repeat_every": 5,
        "repeat_unit": "working_days",
        "lead_buffer_days": 10,
        "expiry_warning_days": 30,
        "is_active": True,
        "is_default": False,
        "version": 1,
        "created_at": "2025-04-01T06:00:00Z",
        "updated_at": "2025-04-01T06:00:00Z",
    },
    "Alert": {
        "id": ALERT_ID,
        "url": _url(f"alerts/{ALERT_ID}/"),
        "kind": "delay_level",
        "level": "warning",
        "repeat_index": 0,
        "state": "open",
        "message": "MOFCOM-2025-0431 has waited 30 of 45 working days; the deadline is 2025-06-23.",
        "application": _url(f"license-applications/{APPLICATION_ID}/"),
        "application_id": APPLICATION_ID,
        "shipments": [SHIPMENT_ID],
        "wait": {"elapsed": 30, "unit": "working_days"},
        "rule": RULE_ID,
        "escalates": None,
        "raised_at": "2025-05-28T00:05:00Z",
        "acknowledged_by": "",
        "acknowledged_at": None,
        "acknowledge_note": "",
        "resolved_at": None,
        "resolution": "",
        "created_at": "2025-05-28T00:05:00Z",
        "updated_at": "2025-05-28T00:05:00Z",
    },
    "Acknowledge": {"note": "Chased MOFCOM by phone; an answer is expected this week."},
    "ShipmentStatusChange": {
        **_STATUS_CHANGE,
        "from_status": "licensed",
        "to_status": "shipped",
        "occurred_at": "2025-07-14T09:00:00Z",
        "note": "Loaded at Xiamen, bill of lading COSU6312345670.",
    },
}

# Values for fields of components without an entry, by field name; used where they fit.
FIELD_HINTS: dict[str, Any] = {
    "exporter": EXPORTER_ID,
    "application": APPLICATION_ID,
    "license_application": APPLICATION_ID,
    "shipment": SHIPMENT_ID,
    "stop_id": CLOCK_STOP_ID,
    "authority": "CN-MOFCOM",
    "item": "1C905",
    "control_code": "1C905",
    "code": "CN-MOFCOM",
    "country": "CN",
    "calendar_country": "CN",
    "destination_country": "DE",
    "end_user_country": "DE",
    "consignee_country": "DE",
    "currency": "USD",
    "unit": "kg",
    "quantity": "250.000",
    "name": "Fujian Changting Rare Earth Materials Co., Ltd.",
    "note": "Recorded from the authority's notice.",
    "request_id": EXAMPLE_REQUEST_ID,
    "version": 1,
}

_GENERATED_STRINGS = {
    "date-time": "2025-05-06T01:00:00Z",
    "date": "2025-05-06",
    "time": "09:00:00",
    "duration": "P45D",
    "email": "export@example.com",
    "uri": _url(""),
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "decimal": "250.000",
}
_MISSING = object()


def _parse_ok(parse: Callable[[str], Any], text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


_FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "uuid": lambda text: _parse_ok(uuid.UUID, text),
    "date": lambda text: _parse_ok(dt.date.fromisoformat, text),
    "date-time": lambda text: _parse_ok(dt.datetime.fromisoformat, text),
    "email": lambda text: "@" in text,
    "uri": lambda text: text.startswith(("http://", "https://")),
}


def _example_names(name: str) -> list[str]:
    """Registry names to try for a component, most specific first.

    PatchedLicenseApplicationUpdateRequest tries PatchedLicenseApplicationUpdateRequest,
    PatchedLicenseApplicationRequest, LicenseApplicationUpdateRequest, ..., LicenseApplication.
    """
    patched = name.startswith("Patched")
    core = name.removeprefix("Patched")
    request = core.endswith("Request")
    stems = [core.removesuffix("Request") if request else core]
    for suffix in ("Request", "Update"):
        if stems[-1].endswith(suffix):
            stems.append(stems[-1].removesuffix(suffix))
    names = [f"Patched{stem}Request" for stem in stems] if patched else []
    if request:
        names += [f"{stem}Request" for stem in stems]
    return names + stems


class _ExampleBuilder:
    """Builds the example of a schema from the registry's hints and the schema itself."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.schemas: dict[str, Any] = components.get("schemas", {})
        self.used_registry = False

    def component_name(self, schema: dict[str, Any]) -> str | None:
        ref = schema.get("$ref", "")
        prefix = "#/components/schemas/"
        return ref[len(prefix) :] if ref.startswith(prefix) else None

    def hint(self, name: str) -> Any:
        """The registry's entry for a component, or for the one it is a variant of."""
        for candidate in _example_names(name):
            if candidate in EXAMPLES:
                self.used_registry = True
                return copy.deepcopy(EXAMPLES[candidate])
        return _MISSING

    def example(self, schema: dict[str, Any], direction: str) -> Any:
        return self.conform(_MISSING, schema, direction, field="", depth=0)

    def conform(self, hint: Any, schema: dict[str, Any], direction: str, field: str, depth: int):
        if depth > 12:
            return None
        name = self.component_name(schema)
        if name is not None:
            if hint is _MISSING:
                hint = self.hint(name)
            return self.conform(hint, self.schemas.get(name, {}), direction, field, depth + 1)
        for combinator in ("oneOf", "anyOf"):
            if combinator in schema:
                branches = [b for b in schema[combinator] if b.get("type") != "null"]
                if hint is None and len(branches) < len(schema[combinator]):
                    return None
                chosen = next((b for b in branches if self._fits(hint, b)), branches[0])
                return self.conform(hint, chosen, direction, field, depth + 1)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for branch in schema["allOf"]:
                branch_name = self.component_name(branch)
                branch = self.schemas.get(branch_name, {}) if branch_name else branch
                for key, value in branch.items():
                    if isinstance(value, dict) and isinstance(merged.get(key), dict):
                        merged[key] = {**merged[key], **value}
                    else:
                        merged[key] = value
            return self.conform(hint, merged, direction, field, depth + 1)
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        if hint is None and "null" in types:
            return None
        if "enum" in schema:
            choices = [choice for choice in schema["enum"] if choice not in ("", None)]
            for candidate in (hint, FIELD_HINTS.get(field, _MISSING)):
                if candidate in schema["enum"]:
                    return candidate
            return choices[0] if choices else schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        kind = next((t for t in types if t != "null"), None)
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else ""
        if kind == "object":
            return self._object(hint, schema, direction, depth)
        if kind == "array":
            items = schema.get("items", {})
            if isinstance(hint, list) and (hint or not schema.get("minItems")):
                return [self.conform(h, items, direction, field, depth + 1) for h in hint]
            return [self.conform(_MISSING, items, direction, field, depth + 1)]
        for candidate in (hint, FIELD_HINTS.get(field, _MISSING)):
            if candidate is not _MISSING and self._fits(candidate, {**schema, "type": kind}):
                return candidate
        return self._generated(kind, schema)

    def _object(self, hint: Any, schema: dict[str, Any], direction: str, depth: int) -> Any:
        properties = schema.get("properties")
        if not properties:
            return hint if isinstance(hint, dict) else {}
        required = set(schema.get("required", []))
        result = {}
        for name, prop in properties.items():
            if prop.get("readOnly" if direction == "request" else "writeOnly"):
                continue
            if isinstance(hint, dict):
                if name in hint:
                    result[name] = self.conform(hint[name], prop, direction, name, depth + 1)
                elif name in required:
                    result[name] = self.conform(_MISSING, prop, direction, name, depth + 1)
            else:
                result[name] = self.conform(_MISSING, prop, direction, name, depth + 1)
        return result

    def _fits(self, value: Any, schema: dict[str, Any]) -> bool:
        """Whether a scalar or container matches the schema's type and plain constraints."""
        name = self.component_name(schema)
        if name is not None:
            schema = self.schemas.get(name, {})
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        python_types = {
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "object": dict,
            "array": list,
        }
        if value is None:
            return "null" in types
        if types and not any(
            isinstance(value, python_types.get(t, ()))
            and not (t in ("integer", "number") and isinstance(value, bool))
            for t in types
        ):
            return False
        if "enum" in schema and value not in schema["enum"]:
            return False
        if isinstance(value, str):
            if len(value) > schema.get("maxLength", len(value)):
                return False
            if len(value) < schema.get("minLength", 0):
                return False
            if "pattern" in schema and not re.search(schema["pattern"], value):
                return False
            check = _FORMAT_CHECKS.get(schema.get("format", ""))
            if check is not None and not check(value):
                return False
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return not number or schema.get("minimum", value) <= value <= schema.get("maximum", value)

    def _generated(self, kind: str, schema: dict[str, Any]) -> Any:
        if kind == "integer":
            return max(1, schema.get("minimum", 1))
        if kind == "number":
            return max(1.5, schema.get("minimum", 1.5))
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        if schema.get("format") == "uuid":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, _url(str(sorted(schema.items())))))
        text = _GENERATED_STRINGS.get(schema.get("format", ""), "string")
        text = text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), "x")
        if "pattern" in schema and not re.search(schema["pattern"], text):
            # Patterns here are mostly ids and codes: try the shapes they take.
            candidates = [str(uuid.uuid5(uuid.NAMESPACE_URL, schema["pattern"])), "1C905"]
            text = next((c for c in candidates if re.search(schema["pattern"], c)), text)
        return text


METHODS = ("get", "put", "post", "patch", "delete")


def _operations(result: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _nullable_to_type_list(node: Any) -> None:
    """OpenAPI 3.1 has no `nullable`: fold it into `type` (the paginator still writes it)."""
    if isinstance(node, dict):
        if node.get("nullable") is True:  # not a property that happens to be called so
            del node["nullable"]
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                kind.append("null")
        for value in node.values():
            _nullable_to_type_list(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_to_type_list(value)


def _add_media_examples(content: dict[str, Any], builder: _ExampleBuilder, direction: str, path):
    first = None
    for media in content.values():
        schema = media.get("schema")
        if not schema:
            continue
        if "examples" in media or "example" in media:
            values = [e.get("value") for e in media.get("examples", {}).values()]
            first = first if first is not None else (values[0] if values else media.get("example"))
            continue
        name = builder.component_name(schema)
        builder.used_registry = False
        value = builder.example(schema, direction)
        if isinstance(value, dict) and {"next", "previous", "results"} <= set(value):
            # A list envelope: the first page, with a further one only for paginated lists.
            paginated = bool(name and name.startswith("Paginated"))
            value["next"] = f"{EXAMPLE_ORIGIN}{path}?cursor=eyJkIjoibmV4dCJ9" if paginated else None
            value["previous"] = None
        label = name or "Body"
        summary = label if builder.used_registry else f"{label}, generated from the schema"
        media["examples"] = {label: {"summary": summary, "value": value}}
        first = first if first is not None else value
    return first


def _path_parameter_example(
    path: str, parameter: dict[str, Any], answers: dict[str, Any], builder: _ExampleBuilder
) -> Any:
    """The named object's own value, e.g. `id` from the example of GET /exporters/{id}/."""
    name = parameter["name"]
    marker = "{" + name + "}/"
    if marker in path:
        answer = answers.get(path[: path.index(marker) + len(marker)], {})
        value = answer.get(name, _MISSING)
        if value is not _MISSING and builder._fits(value, parameter["schema"]):
            return value
    return builder.conform(_MISSING, parameter["schema"], "request", name, 0)


def _item_links(
    paths: dict[str, Any],
    path: str,
    item: tuple[str, set[str]],
    methods: tuple[str, ...],
    etag: bool,
) -> dict[str, Any]:
    """Links from an operation on `path` to the operations on one of its items.

    `item` is where the item is in the response body and its fields: the one named like the
    path parameter (`code`), or else `id`, fills it. The path's own parameters are passed
    on, and the response's ETag (`etag`) fills If-Match.
    """
    pointer, fields = item
    known = set(uritemplate.variables(path))
    links = {}
    for target_path, target_item in paths.items():
        if not target_path.startswith(path + "{"):
            continue
        new = target_path[len(path) + 1 : target_path.index("}", len(path))]
        field = new if new in fields else "id"
        if field not in fields:
            continue
        for method, operation in target_item.items():
            if method not in methods:
                continue
            parameters: dict[str, str] = {}
            for parameter in operation.get("parameters", []):
                where, name = parameter["in"], parameter["name"]
                if where == "path" and name == new:
                    parameters[name] = f"$response.body#{pointer}/{field}"
                elif where == "path" and name in known:
                    parameters[name] = f"$request.path.{name}"
                elif where == "path":
                    break  # a parameter nothing here can fill
                elif name == "If-Match" and etag:
                    parameters["header.If-Match"] = "$response.header.ETag"
            else:
                operation_id = operation["operationId"]
                links[operation_id] = {"operationId": operation_id, "parameters": parameters}
    return dict(sorted(links.items()))


def _add_links(result: dict[str, Any], builder: _ExampleBuilder) -> None:
    """State what a client does next as OpenAPI links, where tools can follow them.

    A create links to every operation on the object it created (its `id` in the path, its
    ETag in If-Match); a list links to reading its first item and to the actions on it that
    need no version (writes need the ETag of a read of the item itself).
    """
    paths = result.get("paths", {})
    for path, item in paths.items():
        for method, status, pointer, methods in (
            ("post", "201", "", METHODS),
            ("get", "200", "/results/0", ("get", "post")),
        ):
            response = item.get(method, {}).get("responses", {}).get(status, {})
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if pointer:  # a list: the schema of its items
                envelope = builder.schemas.get(builder.component_name(schema) or "", {})
                schema = envelope.get("properties", {}).get("results", {}).get("items", {})
            name = builder.component_name(schema)
            fields = set(builder.schemas.get(name or "", {}).get("properties", {}))
            etag = "ETag" in response.get("headers", {})
            links = _item_links(paths, path, (pointer, fields), methods, etag)
            if links:
                response["links"] = links


_SCHEMA_REF = "#/components/schemas/"


def _schema_refs(node: Any) -> Iterator[str]:
    """The names of the schema components that `node` refers to, at any depth."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMA_REF):
            yield ref.removeprefix(_SCHEMA_REF)
        for value in node.values():
            yield from _schema_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_refs(value)


def _drop_unused_schemas(result: dict[str, Any]) -> None:
    """Drop the schema components that no operation, webhook or other component uses.

    With COMPONENT_SPLIT_REQUEST spectacular registers a `...Request` component for a
    read-only nested serializer (`WaitRequest`) and then leaves the field out of the
    request: a generated client would carry a model that nothing sends.
    """
    components = result.get("components", {})
    schemas = components.get("schemas", {})
    roots = {key: value for key, value in result.items() if key != "components"}
    roots["components"] = {key: value for key, value in components.items() if key != "schemas"}
    used: set[str] = set()
    pending = list(_schema_refs(roots))
    while pending:
        name = pending.pop()
        if name not in used and name in schemas:
            used.add(name)
            pending.extend(_schema_refs(schemas[name]))
    for name in set(schemas) - used:
        del schemas[name]


def postprocess_v1(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Fold `nullable` into 3.1 types; add examples to every body and path parameter, and links.

    `info.version` stays the plain semantic version of SPECTACULAR_SETTINGS: given an API
    version, spectacular would write `1.0.0 (v1)`, which is not a version that packaging
    tools accept for a generated client. The API version is `info.x-api-version`.
    """
    result["info"]["version"] = spectacular_settings.VERSION
    _nullable_to_type_list(result)
    builder = _ExampleBuilder(result.get("components", {}))
    answers: dict[str, dict[str, Any]] = {}  # path -> example of the object it names
    for path, _, operation in _operations(result):
        body = operation.get("requestBody", {}).get("content")
        if body:
            _add_media_examples(body, builder, "request", path)
        for status, response in operation.get("responses", {}).items():
            if "content" in response:
                value = _add_media_examples(response["content"], builder, "response", path)
                if status.startswith("2") and isinstance(value, dict):
                    answers.setdefault(path, value)
    for path, _, operation in _operations(result):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "path" or "example" in parameter or "examples" in parameter:
                continue
            parameter["example"] = _path_parameter_example(path, parameter, answers, builder)
    _add_links(result, builder)
    _drop_unused_schemas(result)
    components = result.get("components", {})
    for kind, entries in components.items():
        components[kind] = dict(sorted(entries.items()))
    return result


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "licensing.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`, as printed by `manage.py create_api_key`.",
        }
