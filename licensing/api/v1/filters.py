"""Query filters shared by the v1 lists.

Every filter validates its value, so a bad one answers 400 with the parameter named, never
a 500 or a silently empty list. Filters on items look through the lines with EXISTS
rather than a join, so an object with two matching lines is still listed once.

A filter that takes several values (`MultiValueChoiceFilter`) reads them as integrators
write them: `?status=a,b`, `?status=a&status=b`, or both mixed. A time filter
(`IsoDateTimeFilter`) whose `+` offset arrived as a space (a `+` in a query string means a
space unless percent-encoded) answers 400 saying so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django_countries import countries
from django_filters.fields import (
    DateRangeField,
    IsoDateTimeField,
    MultipleChoiceField,
    RangeField,
)

from core.validation import non_ascii_digits_problem
from licensing.models import ControlledItem, MaterialFamily

CONTROL_CODE_LENGTH = ControlledItem._meta.get_field("control_code").max_length
SEARCH_LENGTH = 200
MULTI_VALUE_NOTE = "Several values: separate them with commas, repeat the parameter, or both."
TIME_NOTE = (
    "Give `Z` (UTC) or an offset; percent-encode an offset's `+` as `%2B`, since a bare `+` "
    "in a query string reads as a space."
)
# A value quoted in an error is cut to this many characters.
MAX_QUOTED = 40


def _quoted(value: str) -> str:
    return repr(value if len(value) <= MAX_QUOTED else f"{value[: MAX_QUOTED - 1]}…")


def _plus_read_as_space(value: Any) -> forms.ValidationError | None:
    """The error for a time whose `+` offset arrived as a space, or None if that is not it."""
    if not isinstance(value, str) or " " not in value.strip():
        return None
    head, _, offset = value.strip().rpartition(" ")
    meant = f"{head}+{offset}"
    try:
        parsed = dt.datetime.fromisoformat(meant)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        in_utc = parsed.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return None
    encoded = parsed.isoformat().replace("+", "%2B")
    # Messages are %-formatted (django-filter does it even without params): values go in params.
    return forms.ValidationError(
        "This time has a space where its offset's + was expected: a + in a query string reads "
        "as a space. Percent-encode it as %(plus)s (%(encoded)s) or give the time in UTC with Z "
        "(%(utc)s).",
        code="invalid",
        params={"plus": "%2B", "encoded": encoded, "utc": in_utc},
    )


def _refuse_non_ascii_digits(value: Any) -> None:
    """Dates in a query are written in the digits 0-9 (see core.validation)."""
    if isinstance(value, str):
        problem = non_ascii_digits_problem(value)
        if problem:
            raise forms.ValidationError(problem, code="invalid")


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time that also exists in UTC, as the database compares it.

    It is handed on in UTC: PostgreSQL refuses offsets beyond 15:59 (a 500), which ISO 8601
    and Python allow, e.g. +20:21. A `+` offset that arrived as a space gets its own error,
    since the client's value was right and only its encoding wrong.
    """

    def to_python(self, value: Any) -> dt.datetime | None:
        _refuse_non_ascii_digits(value)
        try:
            result = super().to_python(value)
        except forms.ValidationError:
            hint = _plus_read_as_space(value)
            if hint is None:
                raise
            raise hint from None
        if result is not None:
            try:
                result = result.astimezone(dt.UTC)
            except OverflowError:
                raise forms.ValidationError("This time is out of range.", code="invalid") from None
        return result


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["help_text"] = " ".join(filter(None, (kwargs.get("help_text"), TIME_NOTE)))
        super().__init__(*args, **kwargs)


class CommaSeparatedChoiceField(MultipleChoiceField):
    """Several choices, each parameter holding one or more separated by commas.

    Blank members (`a,,b`, a trailing comma) are skipped, as a blank parameter is. The error
    names every unknown member and the allowed values.
    """

    def to_python(self, value: Any) -> list[str]:
        return [
            member.strip()
            for parameter in super().to_python(value)
            for member in parameter.split(",")
            if member.strip()
        ]

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        unknown = list(dict.fromkeys(member for member in value if not self.valid_value(member)))
        if unknown:
            allowed = ", ".join(str(key) for key, _ in self.choices)
            shown = ", ".join(_quoted(member) for member in unknown[:5])
            raise forms.ValidationError(
                "Unknown value%(plural)s %(shown)s. Choose from: %(allowed)s. %(note)s",
                code="invalid_choice",
                params={
                    "plural": "s" if len(unknown) > 1 else "",
                    "shown": shown,
                    "allowed": allowed,
                    "note": MULTI_VALUE_NOTE,
                },
            )


class MultiValueChoiceFilter(django_filters.MultipleChoiceFilter):
    """Rows matching any of several values: `?x=a,b`, `?x=a&x=b`, or both mixed.

    The schema shows it as an array parameter (form style, exploded) with MULTI_VALUE_NOTE
    in its description.
    """

    field_class = CommaSeparatedChoiceField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["help_text"] = " ".join(filter(None, (kwargs.get("help_text"), MULTI_VALUE_NOTE)))
        super().__init__(*args, **kwargs)


class AsciiDateField(forms.DateField):
    """A date in the digits 0-9: Python's strptime would read full-width digits too."""

    def to_python(self, value: Any) -> dt.date | None:
        _refuse_non_ascii_digits(value)
        return super().to_python(value)


class AsciiDateRangeField(DateRangeField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        RangeField.__init__(self, (AsciiDateField(), AsciiDateField()), *args, **kwargs)


class DateFromToRangeFilter(django_filters.DateFromToRangeFilter):
    """`<name>_after` and `<name>_before`, both inclusive, in the digits 0-9."""

    field_class = AsciiDateRangeField


class StrictNullBooleanField(forms.NullBooleanField):
    """true or false (1 or 0); anything else is an error, not a filter silently dropped."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value in (True, "true", "True", "1"):
            return True
        if value in (False, "false", "False", "0"):
            return False
        raise forms.ValidationError("Give true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    # The select widgets of django-filter turn an unknown value into None (no filter) before
    # the field sees it; a text input hands the value on as sent.
    field_class = StrictNullBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


def _country_choices() -> list[tuple[str, str]]:
    return [(country.code, country.name) for country in countries]


class LinesFilterSet(django_filters.FilterSet):
    """Filters of a resource that has an exporter, a destination and lines of controlled items.

    Subclasses name their line model (`line_model`, pointing back through `line_parent`)
    and the fields `search` looks in.
    """

    exporter = django_filters.UUIDFilter(field_name="exporter_id", help_text="Exporter id.")
    destination_country = django_filters.ChoiceFilter(
        choices=_country_choices, help_text="ISO 3166-1 alpha-2 code, e.g. DE."
    )
    item = django_filters.CharFilter(
        method="filter_item",
        max_length=CONTROL_CODE_LENGTH,
        help_text="Has a line of this controlled item (control code, e.g. 1C905).",
    )
    material_family = django_filters.ChoiceFilter(
        choices=MaterialFamily.choices,
        method="filter_material_family",
        help_text="Has a line of an item of this material family.",
    )
    updated_since = IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Changed at or after this ISO 8601 time, e.g. 2025-10-01T00:00:00Z.",
    )
    search = django_filters.CharFilter(method="filter_search", max_length=SEARCH_LENGTH)

    line_model: type[Model]
    line_parent: str
    search_fields: tuple[str, ...] = ()

    def with_lines(self, queryset: QuerySet, **lookups: Any) -> QuerySet:
        """The rows that have at least one line matching `lookups`."""
        lines = self.line_model._default_manager.filter(
            **{self.line_parent: OuterRef("pk")}, **lookups
        )
        return queryset.filter(Exists(lines))

    def filter_item(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return self.with_lines(queryset, item__control_code=value)

    def filter_material_family(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return self.with_lines(queryset, item__material_family=value)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Each search field is on the row or behind a foreign key: no join multiplies rows.
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)
