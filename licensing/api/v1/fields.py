"""Serializer fields shared by the v1 resources."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from django_countries.serializer_fields import CountryField
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from core.validation import non_ascii_digits_problem
from licensing.models import ControlledItem, Exporter, LicenseApplication, LicensingAuthority
from licensing.models.applications import PENDING_STATUSES
from licensing.services.lines import LineInput

MAX_LINES = 200
MAX_TEXT = 10_000


class EnumField(serializers.ChoiceField):
    """A choice whose error names the allowed values.

    The error never repeats the input: a lone surrogate in it could not be encoded as UTF-8.
    """

    def to_internal_value(self, data: Any) -> Any:
        if data == "" and self.allow_blank:
            return ""
        try:
            return self.choice_strings_to_values[str(data)]
        except KeyError:
            allowed = ", ".join(self.choice_strings_to_values)
            raise serializers.ValidationError(
                f"Choose one of: {allowed}.", code="invalid_choice"
            ) from None


class CodeRelatedField(serializers.SlugRelatedField):
    """A related row written and shown as its code.

    Codes are printable ASCII. The input is checked before it reaches the query: PostgreSQL
    answers NUL bytes in text with an error, not with "no such row", and an error message
    repeating a lone surrogate could not be encoded.
    """

    max_length = 0

    def to_internal_value(self, data: Any) -> Model:
        if (
            not isinstance(data, str)
            or not 0 < len(data) <= self.max_length
            or not (data.isascii() and data.isprintable())
        ):
            self.fail("invalid", max_length=self.max_length)
        return super().to_internal_value(data)


class ControlCodeField(CodeRelatedField):
    """A controlled item, written and shown as its control code (e.g. "1C905")."""

    max_length = ControlledItem._meta.get_field("control_code").max_length
    default_error_messages = {
        "does_not_exist": "There is no controlled item {value}.",
        "invalid": "Give a control code of 1 to {max_length} characters, e.g. 1C905.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", ControlledItem.objects.select_related("authority"))
        super().__init__(slug_field="control_code", **kwargs)


class AuthorityCodeField(CodeRelatedField):
    """A licensing authority, written and shown as its code (e.g. "CN-MOFCOM")."""

    max_length = LicensingAuthority._meta.get_field("code").max_length
    default_error_messages = {
        "does_not_exist": "There is no licensing authority {value}.",
        "invalid": "Give an authority code of 1 to {max_length} characters, e.g. CN-MOFCOM.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", LicensingAuthority.objects.all())
        super().__init__(slug_field="code", **kwargs)


class CountryCodeField(CountryField):
    """A country, written as its ISO 3166-1 alpha-2 code (its English name is accepted too)."""

    default_error_messages = {
        "invalid_choice": "Give an ISO 3166-1 alpha-2 country code, e.g. DE.",
    }
    # The longest English country name has 44 characters; anything longer is no country.
    MAX_INPUT_LENGTH = 60

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or len(data) > self.MAX_INPUT_LENGTH:
            self.fail("invalid_choice")
        return super().to_internal_value(data)


class OrganizationRelatedField(serializers.PrimaryKeyRelatedField):
    """A row's id, looked up only among the caller's organization's rows.

    Another organization's id gets the same answer as an unknown one: no such row.
    """

    model: type[Model]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("pk_field", serializers.UUIDField())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        from licensing.api.tenancy import request_organization

        request = self.context.get("request")
        organization = request_organization(request) if request else None
        return self.model._default_manager.filter(organization=organization)


class OrganizationExporterField(OrganizationRelatedField):
    """An exporter id, looked up only among the caller's organization's exporters."""

    model = Exporter
    default_error_messages = {"does_not_exist": 'No exporter "{pk_value}" in your organization.'}


class OrganizationApplicationField(OrganizationRelatedField):
    """A license application id, looked up only among the caller's organization's applications."""

    model = LicenseApplication
    default_error_messages = {
        "does_not_exist": 'No license application "{pk_value}" in your organization.'
    }


class AsciiDigitsMixin:
    """Refuses dates and numbers written with digits other than 0-9 (see core.validation),
    which DRF would otherwise read: a full-width 2026-01-01 as a date, an Arabic-Indic 5 as 5."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            problem = non_ascii_digits_problem(data)
            if problem:
                raise serializers.ValidationError(problem, code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class DateField(AsciiDigitsMixin, serializers.DateField):
    """A date in the digits 0-9."""


class DateTimeField(AsciiDigitsMixin, serializers.DateTimeField):
    """A date and time in the digits 0-9."""


class DecimalField(AsciiDigitsMixin, serializers.DecimalField):
    """A decimal in the digits 0-9."""


class IntegerField(AsciiDigitsMixin, serializers.IntegerField):
    """An integer in the digits 0-9."""


class FloatField(AsciiDigitsMixin, serializers.FloatField):
    """A number in the digits 0-9."""


_ASCII_DIGIT_FIELDS = {
    serializers.DateField: DateField,
    serializers.DateTimeField: DateTimeField,
    serializers.DecimalField: DecimalField,
    serializers.IntegerField: IntegerField,
    serializers.FloatField: FloatField,
}
# A ModelSerializer's `serializer_field_mapping`: model fields become the fields above.
ASCII_DIGIT_FIELD_MAPPING = {
    model_field: _ASCII_DIGIT_FIELDS.get(field, field)
    for model_field, field in serializers.ModelSerializer.serializer_field_mapping.items()
}


class QuantityField(DecimalField):
    """A line's quantity: a decimal string over zero, up to 15 integer digits and 3 decimals."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_digits=18,
            decimal_places=3,
            min_value=Decimal("0.001"),
            error_messages={"min_value": "The quantity must be greater than zero."},
            **kwargs,
        )


class AwareDateTimeField(DateTimeField):
    """An ISO 8601 time with its offset: a time without one would be read in the server's zone,
    which can move a notice to another day on the authority's calendar."""

    default_error_messages = {"naive": "Give a time zone, e.g. 2025-10-09T10:00:00+08:00."}

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class AllowedTransitionsField(serializers.ReadOnlyField):
    """The statuses the object may move to next, from a workflow table {status: (targets)}."""

    def __init__(self, transitions: Mapping[str, Iterable[str]], **kwargs: Any) -> None:
        self.transitions = transitions
        kwargs["source"] = "status"
        super().__init__(**kwargs)

    def to_representation(self, value: str) -> list[str]:
        return [str(status) for status in self.transitions[value]]


class LineSerializer(serializers.Serializer):
    """A line of a request. Lines are replaced whole, so even in a PATCH each line is complete."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = {}
        for name, field in self.fields.items():
            if field.read_only or field.source in attrs:
                continue
            if field.required:
                missing[name] = [field.error_messages["required"]]
            elif field.default is not empty:
                # Not get_default(): in a partial update it skips the field, here the whole list.
                default = field.default
                attrs[field.source] = default() if callable(default) else default
        if missing:
            raise serializers.ValidationError(missing, code="required")
        return attrs


def line_inputs(lines: Iterable[Mapping[str, Any]]) -> list[LineInput]:
    """Validated line data as the services take it."""
    return [LineInput(**line) for line in lines]


class ExpectedDecisionSerializer(serializers.Serializer):
    """The expected decision window of an open application, as the forecast last stored it.

    Null once the authority has decided (or the application was withdrawn) and before its
    clock starts. Read from stored fields: no forecasting happens per request.
    """

    p50 = serializers.DateField(
        allow_null=True,
        help_text="The day by which the decision is as likely as not (median); never before "
        "the day the window was computed (every night, and after each change).",
    )
    p90 = serializers.DateField(
        allow_null=True,
        help_text="The day by which the decision is 90 % likely. The shipments' at-risk check "
        "reads it when `basis` is a history level.",
    )
    basis = serializers.ChoiceField(
        choices=[
            ("authority_item_destination", "decisions on the same authority, item and destination"),
            ("authority_item", "decisions on the same authority and item"),
            ("authority_material_family", "decisions on the same authority and material family"),
            ("authority", "decisions of the same authority"),
            ("statutory_deadline", "too little history: p50 and p90 are the statutory deadline"),
            ("no_estimate", "too little history and no statutory deadline: no dates"),
        ],
        help_text="What the window rests on: the most specific group of past decisions with "
        "enough of them (FORECAST_MIN_SAMPLE), else the statutory deadline.",
    )
    sample_size = serializers.IntegerField(
        help_text="Past decisions behind the window: those of its group that came at or after "
        "this application's current wait (0 for the statutory fallback)."
    )

    def get_attribute(self, instance: Any) -> dict[str, Any] | None:
        application = super().get_attribute(instance)
        if (
            application is None
            or application.status not in PENDING_STATUSES
            or not application.expected_decision_basis
        ):
            return None
        return {
            "p50": application.expected_decision_p50,
            "p90": application.expected_decision_p90,
            "basis": application.expected_decision_basis,
            "sample_size": application.expected_decision_sample_size,
        }
