"""Strict request bodies: a field the API would ignore is refused with 400 instead.

DRF drops unknown keys and read-only fields without a word, so `PATCH {"escalated": true}`
(the field is `is_escalated`) answered 200 and changed nothing. `StrictBodyMixin`, on every
serializer that reads a request body, checks the whole body once at the root serializer,
nested objects and lists of them included, and reports each offending field at its JSON
pointer, alongside DRF's own field errors:

- An unknown field (`unknown_field`): the detail lists the fields accepted at that place and,
  for a likely typo, the nearest one.
- A read-only field (`read_only_field`) is compared with what a GET shows now: the
  `to_representation` of the stored object, or, in a nested object or list item, the same
  place in it. An equal value is accepted and ignored, so a GET -> PUT (or a PATCH of the
  whole representation) round trip works; another value is refused and the detail shows
  the stored one.
- Where there is no stored value (a create, an action's body, a list item beyond the stored
  ones) a read-only field is accepted only as null, which is what an object not yet made has.
- `Meta.computed_fields` names read-only fields the server derives and changes without a
  new version (the clock, the delay scan, the forecast, delivery counters). The client's
  copy may lag behind them through no fault of its own: on an update they are accepted
  whatever their value. On a create they follow the rule above.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.renderers import JSONRenderer

UNKNOWN_FIELD = "unknown_field"
READ_ONLY_FIELD = "read_only_field"
# Bounds the answer to a hostile body of thousands of unknown keys; it is refused all the same.
MAX_REPORTED = 100
# The stored value quoted in a read-only error is cut to this many characters.
MAX_QUOTED = 120

Stored = Callable[[], Any]
# What a stored value is where there is none: no object (a create), or no such place in it.
ABSENT = object()


def _nothing_stored() -> object:
    return ABSENT


def _as_json(value: Any) -> Any:
    """A representation as the client received it: JSON values only (strings for dates...)."""
    return json.loads(JSONRenderer().render(value))


def _same(sent: Any, shown: Any) -> bool:
    """JSON equality, where true is not 1 and 1 is not "1"."""
    if isinstance(sent, bool) or isinstance(shown, bool):
        return type(sent) is type(shown) and sent == shown
    if isinstance(sent, dict) and isinstance(shown, dict):
        return sent.keys() == shown.keys() and all(_same(sent[k], shown[k]) for k in sent)
    if isinstance(sent, list) and isinstance(shown, list):
        return len(sent) == len(shown) and all(map(_same, sent, shown))
    if isinstance(sent, int | float) and isinstance(shown, int | float):
        return sent == shown
    return type(sent) is type(shown) and sent == shown


def _member(stored: Stored, key: str | int) -> Stored:
    """The stored value at `key` of the stored object or list, read when first needed."""

    @cache
    def member() -> Any:
        parent = stored()
        if isinstance(parent, dict):
            return parent.get(key, ABSENT)
        if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            return parent[key]
        return ABSENT

    return member


def _quoted(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_QUOTED else f"{text[: MAX_QUOTED - 1]}…"


class _BodyCheck:
    """One walk over a request body along its serializer's fields."""

    def __init__(self, root: serializers.Serializer) -> None:
        self.updating = root.instance is not None
        self.reported = 0
        if self.updating:
            self.stored: Stored = cache(lambda: _as_json(root.to_representation(root.instance)))
        else:
            self.stored = _nothing_stored

    def errors(self, serializer: serializers.Serializer, data: Any) -> dict[str, Any]:
        return self._object(serializer, data, self.stored)

    def _error(self, message: str, code: str) -> list[ErrorDetail] | None:
        if self.reported >= MAX_REPORTED:
            return None
        self.reported += 1
        return [ErrorDetail(message, code=code)]

    def _object(self, serializer: serializers.Serializer, data: Any, stored: Stored) -> dict:
        if not isinstance(data, Mapping):
            return {}  # DRF refuses a body that is not an object
        fields = serializer.fields
        meta = getattr(serializer, "Meta", None)
        computed = set(getattr(meta, "computed_fields", ()))
        errors: dict[str, Any] = {}
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                error = self._unknown(serializer, key)
            elif field.read_only:
                if self.updating and key in computed:
                    continue
                error = self._read_only(value, _member(stored, key))
            else:
                error = self._nested(field, value, _member(stored, key))
            if error:
                errors[key] = error
        return errors

    def _nested(self, field: serializers.Field, value: Any, stored: Stored) -> Any:
        if isinstance(field, serializers.ListSerializer):
            return self._items(field.child, field.max_length, value, stored)
        if isinstance(field, serializers.ListField) and isinstance(
            field.child, serializers.BaseSerializer
        ):
            return self._items(field.child, field.max_length, value, stored)
        if isinstance(field, serializers.Serializer):
            return self._object(field, value, stored)
        return None

    def _items(
        self, child: Any, max_length: int | None, value: Any, stored: Stored
    ) -> dict[int, Any]:
        if not isinstance(value, list) or not isinstance(child, serializers.Serializer):
            return {}
        # A list over its limit is refused whole: its items need no report.
        items = value if max_length is None else value[:max_length]
        errors = {}
        for index, item in enumerate(items):
            error = self._object(child, item, _member(stored, index))
            if error:
                errors[index] = error
        return errors

    def _unknown(self, serializer: serializers.Serializer, key: str) -> list[ErrorDetail] | None:
        accepted = [name for name, field in serializer.fields.items() if not field.read_only]
        nearest = difflib.get_close_matches(key, accepted, n=1)
        hint = f" Did you mean {nearest[0]}?" if nearest else ""
        listed = ", ".join(accepted) if accepted else "none"
        return self._error(
            f"Unknown field.{hint} The fields accepted here: {listed}.", UNKNOWN_FIELD
        )

    def _read_only(self, value: Any, stored: Stored) -> list[ErrorDetail] | None:
        shown = stored()
        if shown is ABSENT:
            if value is None:
                return None
            return self._error(
                "This field is read-only: the server sets it. Leave it out (or send null).",
                READ_ONLY_FIELD,
            )
        if _same(value, shown):
            return None
        return self._error(
            f"This field is read-only and cannot be changed here; it is {_quoted(shown)}. "
            "Send it as a GET shows it, or leave it out.",
            READ_ONLY_FIELD,
        )


def _merged(theirs: Any, ours: Any) -> Any:
    """DRF's error structure with ours added: objects are dicts, list items by index."""
    if not ours:
        return theirs
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        merged = dict(theirs)
        for key, value in ours.items():
            merged[key] = _merged(merged[key], value) if key in merged else value
        return merged
    if isinstance(theirs, list) and theirs and all(isinstance(each, Mapping) for each in theirs):
        # A list serializer's errors: one entry per item, {} for a valid one.
        return _merged({index: each for index, each in enumerate(theirs) if each}, ours)
    # DRF refused the value itself (not an object, too many items): that says enough.
    return theirs


# The rules are in the module docstring. The class has none on purpose: drf-spectacular
# describes a serializer component by the first docstring in its MRO, and this one would
# then describe every request and response body without its own.
class StrictBodyMixin:
    def to_internal_value(self, data: Any) -> Any:
        if getattr(self, "parent", None) is not None:
            return super().to_internal_value(data)  # nested: the root checks the whole body
        strict = _BodyCheck(self).errors(self, data)  # type: ignore[arg-type]
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except ValidationError as error:
            raise ValidationError(_merged(error.detail, strict)) from None
        if strict:
            raise ValidationError(strict)
        return value
