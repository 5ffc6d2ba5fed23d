"""Keyset (cursor) pagination: stable order, constant cost at any depth.

The cursor holds the last row's sort value and id; the next page is the rows after
(value, id) in the order `ORDER BY value, id`, found through an index on those columns by a
row-value comparison, so page 10,000 costs what page 1 costs. `page_size` defaults to 50
and is capped at 500. Lists may be ordered by any of the view's `ordering_fields`
(`?ordering=-created_at`); each must be non-null.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import uuid
from collections import OrderedDict
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import (
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    F,
    FloatField,
    IntegerField,
    Model,
    QuerySet,
    TextField,
    UUIDField,
)
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 50
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_PAGE_SIZE = 500


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        parse = {"dt": dt.datetime.fromisoformat, "d": dt.date.fromisoformat, "u": uuid.UUID}[kind]
        parsed = parse(text)
        # In UTC: PostgreSQL refuses offsets beyond 15:59, which Python allows.
        if isinstance(parsed, dt.datetime) and parsed.tzinfo is not None:
            return parsed.astimezone(dt.UTC)
        return parsed
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    raise ValueError("unexpected cursor value")


def _check_value(value: Any, model: type[Model], name: str) -> None:
    """Raise ValueError unless `value` has the type of the sort field's values.

    A cursor is opaque but comes from the client: a forged value of another type would reach
    the database (PostgreSQL refuses to compare a timestamp with a number) as a 500.
    """
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return
    if isinstance(field, DateTimeField):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError("a cursor time needs a time zone")
    elif isinstance(field, DateField):
        if type(value) is not dt.date:
            raise ValueError("not a date")
    elif isinstance(field, UUIDField):
        if not isinstance(value, uuid.UUID):
            raise ValueError("not a uuid")
    elif isinstance(field, CharField | TextField):
        # NUL and lone surrogates cannot even be sent to PostgreSQL.
        if not isinstance(value, str) or _UNSTORABLE.search(value):
            raise ValueError("not text")
    elif isinstance(field, IntegerField | FloatField | DecimalField) and (
        not isinstance(value, int | float) or isinstance(value, bool)
    ):
        raise ValueError("not a number")


class KeysetCursorPagination(BasePagination):
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"
    default_ordering = "-created_at"

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return DEFAULT_PAGE_SIZE
        # isascii: "²".isdigit() is true, but int("²") raises.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or int(raw) < 1:
            raise ValidationError({"page_size": [f"A whole number from 1 to {MAX_PAGE_SIZE}."]})
        return min(int(raw), MAX_PAGE_SIZE)

    def _ordering(self, request: Request, view: Any) -> str:
        allowed = getattr(view, "ordering_fields", None) or ("created_at",)
        requested = request.query_params.get(self.ordering_query_param)
        ordering = requested or getattr(view, "default_ordering", self.default_ordering)
        if ordering.lstrip("-") not in allowed:
            choices = ", ".join(f"{name}, -{name}" for name in allowed)
            raise ValidationError({"ordering": [f"Order by one of: {choices}."]})
        return ordering

    def _cursor(
        self, request: Request, ordering: str, model: type[Model]
    ) -> tuple[str, Any, uuid.UUID] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode())
            direction, value, last_id, cursor_ordering = (
                data["d"],
                _decode(data["v"]),
                uuid.UUID(data["i"]),
                data["o"],
            )
            if direction not in ("next", "prev") or cursor_ordering != ordering:
                raise ValueError
            _check_value(value, model, ordering.lstrip("-"))
        except (ValueError, KeyError, TypeError, OverflowError, UnicodeError, binascii.Error):
            raise ValidationError(
                {
                    "cursor": [
                        "This cursor is not valid for this list; follow the `next` and `previous` links."
                    ]
                }
            ) from None
        return direction, value, last_id

    def _make_cursor(self, direction: str, ordering: str, row: Any) -> str:
        field = ordering.lstrip("-")
        payload = {
            "d": direction,
            "o": ordering,
            "v": _encode(getattr(row, field)),
            "i": str(row.pk),
        }
        return (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
            .decode()
            .rstrip("=")
        )

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.page_size = self._page_size(request)
        self.ordering = self._ordering(request, view)
        field = self.ordering.lstrip("-")
        descending = self.ordering.startswith("-")
        cursor = self._cursor(request, self.ordering, queryset.model)
        backwards = cursor is not None and cursor[0] == "prev"
        # Walking backwards is walking the reversed order, then flipping the page.
        scan_descending = descending != backwards
        key = Tuple(F(field), F("pk"))
        if cursor is not None:
            _, value, last_id = cursor
            lookup = TupleLessThan if scan_descending else TupleGreaterThan
            queryset = queryset.filter(lookup(key, (value, last_id)))
        prefix = "-" if scan_descending else ""
        rows = list(queryset.order_by(f"{prefix}{field}", f"{prefix}pk")[: self.page_size + 1])
        has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        self.has_next = has_more if not backwards else True
        self.has_previous = (cursor is not None) if not backwards else has_more
        self.rows = rows
        return rows

    def _link(self, direction: str, row: Any) -> str:
        url = self.request.build_absolute_uri()
        url = replace_query_param(
            url, self.cursor_query_param, self._make_cursor(direction, self.ordering, row)
        )
        return url

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link("next", self.rows[-1])

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.rows:
            return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)
        return self._link("prev", self.rows[0])

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = getattr(view, "ordering_fields", None) or ("created_at",)
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": "Sort field; prefix with - for descending.",
                "schema": {"type": "string", "enum": [p + f for f in allowed for p in ("", "-")]},
            },
        ]
