"""Spreadsheet import and export of applications, shipments and alerts (django-import-export).

Imports never save a model themselves: each row is parsed into the arguments of the same
services the API calls (`application_create` then `application_transition` step by step,
`shipment_create`), by the importing user, for one organization. Rows name related records
by natural keys: the exporter's registration number, the authority's code, the items'
control codes, ISO country codes, and an application's authority reference or license number.

Surprising on purpose:
- The dry run really runs the services inside a transaction that is rolled back, so the
  preview shows every domain error the real import would meet (duplicates within the file
  included). The real import runs in one transaction and rolls back entirely on any row error.
- Imports only create records; they never update or delete existing ones.
- Exported text cells that a spreadsheet would run as a formula are prefixed with "'"; so are
  cells that start with a full-width equals, plus, minus or at sign, which spreadsheets also run.
- Dates and numbers are written in the digits 0-9; other scripts' digits are refused.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django_countries import countries
from import_export import resources
from import_export.fields import Field
from import_export.formats import base_formats
from import_export.resources import Diff

from core.actors import Actor
from core.errors import (
    DomainError,
    FieldErrors,
    InvalidTransition,
    LicenseNotValid,
    QuantityExceeded,
)
from core.identifiers import identifier_key
from core.validation import non_ascii_digits_problem
from licensing.models import (
    ApplicationStatus,
    ControlledItem,
    DelayAlert,
    Exporter,
    LicenseApplication,
    LicenseType,
    LicensingAuthority,
    Organization,
    QuantityUnit,
    Shipment,
)
from licensing.services.applications import application_create, application_transition
from licensing.services.lines import LineInput
from licensing.services.shipments import shipment_create

# Larger files are refused before they are read; more rows than this are refused once read.
# Each row runs the services twice (dry run, then import) in one request: an application
# walked to its decision costs a few hundred queries, so files stay small.
MAX_IMPORT_FILE_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 500

Status = ApplicationStatus
# The statuses an imported application can be brought to, and the column holding the date of
# each step on the way. Later statuses (expired, revoked, exhausted) follow from events after
# the approval and are recorded in the admin or the API, not imported.
STEP_DATE_COLUMNS = {
    Status.SUBMITTED: "submitted_at",
    Status.ACCEPTED: "accepted_at",
    Status.UNDER_REVIEW: "review_started_at",
    Status.INFO_REQUESTED: "info_requested_at",
    Status.APPROVED: "decided_at",
    Status.DENIED: "decided_at",
    Status.WITHDRAWN: "decided_at",
}
IMPORTABLE_STATUSES = (Status.DRAFT, *STEP_DATE_COLUMNS)
_MAIN_LINE = (Status.SUBMITTED, Status.ACCEPTED, Status.UNDER_REVIEW)


class ImportFileError(Exception):
    """The file as a whole cannot be imported (headers, size); the message is for the user."""


# --- cells -------------------------------------------------------------------------------------


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def starts_like_a_formula(text: str) -> bool:
    """Whether a spreadsheet could run `text` as a formula: its first character, once
    compatibility forms are folded (a full-width equals sign is "="), starts one (OWASP CSV injection)."""
    return unicodedata.normalize("NFKC", text[:1])[:1] in _FORMULA_STARTS


def formula_neutralised(value: Any) -> Any:
    """`value` with a leading "'" when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and starts_like_a_formula(value):
        return "'" + value
    return value


class RowErrors:
    """Messages collected per column while a row is parsed, raised together as one ValidationError."""

    def __init__(self) -> None:
        self.by_column: dict[str, list[str]] = {}

    def add(self, column: str, message: str) -> None:
        messages = self.by_column.setdefault(column, [])
        if message not in messages:
            messages.append(message)

    def raise_if_any(self) -> None:
        if self.by_column:
            raise ValidationError(self.by_column)


class Cells:
    """Typed reads of one row's cells; a bad cell records an error and reads as empty."""

    def __init__(self, row: dict[str, Any], errors: RowErrors) -> None:
        self.row = row
        self.errors = errors

    def text(self, column: str, *, required: bool = False, max_length: int | None = None) -> str:
        value = self.row.get(column)
        if value is None:
            text = ""
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))  # a spreadsheet's 12345.0 is the reference 12345
        else:
            text = str(value).strip()
        if unicodedata.normalize("NFKC", text[:1]) == "=":
            self.errors.add(column, "Formulas are not imported; enter the value itself.")
            return ""
        if required and not text:
            self.errors.add(column, "This column is required.")
        if max_length is not None and len(text) > max_length:
            self.errors.add(column, f"At most {max_length} characters (this has {len(text)}).")
            return ""
        return text

    def digits(self, column: str) -> str:
        """A date or number's text; digits other than 0-9 record an error and read as empty."""
        text = self.text(column)
        problem = non_ascii_digits_problem(text)
        if problem:
            self.errors.add(column, problem)
            return ""
        return text

    def choice(self, column: str, choices: Iterable[str], *, default: str = "") -> str:
        text = self.text(column, required=not default).lower().replace(" ", "_")
        allowed = list(choices)
        if not text:
            return default
        if text not in allowed:
            self.errors.add(column, f"'{text}' is not one of: {', '.join(allowed)}.")
            return default
        return text

    def country(self, column: str, *, required: bool = True) -> str:
        code = self.text(column, required=required).upper()
        if code and code not in countries:
            self.errors.add(column, f"'{code}' is not an ISO 3166 two-letter country code.")
            return ""
        return code

    def boolean(self, column: str) -> bool:
        value = self.row.get(column)
        if isinstance(value, bool):
            return value
        text = self.text(column).lower()
        if text in ("", "0", "false", "no", "n"):
            return False
        if text in ("1", "true", "yes", "y"):
            return True
        self.errors.add(column, f"'{text}' is not yes/no (use true, false, yes, no, 1 or 0).")
        return False

    def date(self, column: str) -> dt.date | None:
        value = self.row.get(column)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = self.digits(column)
        if not text:
            return None
        try:
            parsed = parse_date(text)
        except ValueError:
            parsed = None
        if parsed is None:
            self.errors.add(column, f"'{text}' is not a date; use YYYY-MM-DD.")
        return parsed

    def moment(self, column: str, time_zone: ZoneInfo) -> dt.datetime | None:
        """A date or date-time; without a zone it is read in `time_zone` (the authority's)."""
        value = self.row.get(column)
        if isinstance(value, dt.datetime):
            parsed: dt.datetime | None = value
        elif isinstance(value, dt.date):
            parsed = dt.datetime.combine(value, dt.time())
        else:
            text = self.digits(column)
            if not text:
                return None
            try:
                parsed = parse_datetime(text)
                if parsed is None and parse_date(text) is not None:
                    parsed = dt.datetime.combine(parse_date(text), dt.time())
            except ValueError:
                parsed = None
            if parsed is None:
                self.errors.add(
                    column, f"'{text}' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM+08:00."
                )
                return None
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=time_zone)
        return parsed


@dataclass(frozen=True)
class ParsedLine:
    item: ControlledItem
    quantity: Decimal
    unit: str
    value: Decimal | None = None
    currency: str = ""

    def as_input(self) -> LineInput:
        return LineInput(
            item=self.item,
            quantity=self.quantity,
            unit=self.unit,
            value=self.value,
            currency=self.currency,
        )


_LINE_FORMAT = "CODE QUANTITY UNIT, e.g. '1C905 1000 kg' (applications may add 'VALUE CURRENCY')"


def parse_lines(
    text: str,
    *,
    find_item: Callable[[str], ControlledItem | None],
    with_value: bool,
    errors: RowErrors,
    column: str = "lines",
) -> list[ParsedLine]:
    """Lines written as '1C905 1000 kg; 1C904 2.5 t' (applications: '1C905 1000 kg 150000 USD')."""
    lines: list[ParsedLine] = []
    units = QuantityUnit.values
    for number, chunk in enumerate((part.strip() for part in text.split(";")), start=1):
        if not chunk:
            continue
        parts = chunk.split()
        if len(parts) not in ((3, 5) if with_value else (3,)):
            errors.add(column, f"Line {number} '{chunk}': write {_LINE_FORMAT}.")
            continue
        code, quantity_text, unit = parts[0], parts[1], parts[2].lower()
        item = find_item(code)
        if item is None:
            errors.add(column, f"Line {number}: no controlled item has the control code '{code}'.")
        digits_problem = non_ascii_digits_problem(" ".join(parts[1:2] + parts[3:4]))
        if digits_problem:
            errors.add(column, f"Line {number}: {digits_problem}")
            continue
        try:
            quantity = Decimal(quantity_text)
            if not quantity.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors.add(column, f"Line {number}: '{quantity_text}' is not a quantity.")
            continue
        if unit not in units:
            errors.add(column, f"Line {number}: '{unit}' is not a unit; use {', '.join(units)}.")
            continue
        value, currency = None, ""
        if len(parts) == 5:
            try:
                value = Decimal(parts[3])
                if not value.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                errors.add(column, f"Line {number}: '{parts[3]}' is not a value.")
                continue
            currency = parts[4].upper()
            if not re.fullmatch(r"[A-Z]{3}", currency):
                errors.add(column, f"Line {number}: '{parts[4]}' is not an ISO 4217 currency code.")
                continue
        if item is not None:
            lines.append(ParsedLine(item, quantity, unit, value, currency))
    if not lines and column not in errors.by_column:
        errors.add(column, f"At least one line is needed: {_LINE_FORMAT}.")
    return lines


def format_lines(lines: Iterable[Any]) -> str:
    """Lines written back in the import syntax: '1C905 1000 kg; 1C904 2.5 t'."""
    return "; ".join(
        f"{line.item.control_code} {line.quantity.normalize():f} {line.unit}" for line in lines
    )


# --- the base import resource -------------------------------------------------------------


class _PreviewDiff(Diff):
    """The preview shows each column as the created record has it (dehydrate methods included)."""

    def __init__(self, resource, instance, new):
        super().__init__(resource, instance, new)
        self.left = self._cells(resource, instance)

    def compare_with(self, resource, instance):
        self.right = self._cells(resource, instance)

    @staticmethod
    def _cells(resource, instance):
        return [resource.export_field(field, instance) for field in resource.get_import_fields()]


class ServiceImportResource(resources.ModelResource):
    """Creates one record per row through a service, as `actor`, in `organization`.

    Subclasses list their columns as fields (REQUIRED_COLUMNS first), parse a row in
    `parse_row` (raising ValidationError keyed by column) and create the record in
    `create_record`. Domain errors are reported on the column their JSON pointer names.
    """

    REQUIRED_COLUMNS: tuple[str, ...] = ()
    # JSON pointer's first segment -> the column it is about.
    POINTER_COLUMNS: dict[str, str] = {}
    # Domain error classes reported on one column rather than on the row.
    ERROR_COLUMNS: dict[type[DomainError], str] = {}

    def __init__(
        self, *, organization: Organization | None = None, actor: Actor | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.organization = organization
        self.actor = actor
        self._cache: dict[tuple[str, str], Any] = {}

    @classmethod
    def get_diff_class(cls):
        return _PreviewDiff

    def columns(self) -> list[str]:
        return [field.column_name for field in self.get_import_fields()]

    def cached(self, kind: str, key: str, load: Callable[[], Any]) -> Any:
        if (kind, key) not in self._cache:
            self._cache[(kind, key)] = load()
        return self._cache[(kind, key)]

    def find_item(self, code: str) -> ControlledItem | None:
        return self.cached(
            "item",
            code.upper(),
            lambda: (
                ControlledItem.objects.select_related("authority")
                .filter(control_code__iexact=code)
                .first()
            ),
        )

    def find_authority(self, code: str) -> LicensingAuthority | None:
        return self.cached(
            "authority",
            code.upper(),
            lambda: LicensingAuthority.objects.filter(code__iexact=code).first(),
        )

    def find_exporter(self, cells: Cells) -> Exporter | None:
        number = cells.text("exporter_registration_number", required=True)
        country = cells.country("exporter_country", required=False)
        if not number:
            return None
        key = identifier_key(number)
        matches = self.cached(
            "exporter",
            f"{key}|{country}",
            lambda: list(
                Exporter.objects.filter(
                    organization=self.organization, registration_key=key
                ).filter(Q(country=country) if country else Q())[:2]
            ),
        )
        if not matches:
            cells.errors.add(
                "exporter_registration_number",
                f"No exporter of {self.organization} has the registration number '{number}'"
                + (f" in {country}." if country else "."),
            )
            return None
        if len(matches) > 1:
            cells.errors.add(
                "exporter_country",
                f"Several exporters have the registration number '{number}'; give exporter_country.",
            )
            return None
        return matches[0]

    # django-import-export hooks ---------------------------------------------------------------

    def before_import(self, dataset, **kwargs) -> None:
        """Check the headers and the size, then put the columns in this resource's order.

        On a problem the rows are dropped, so the user sees one file error, not one per row.
        """
        expected = self.columns()
        headers = [str(header or "").strip().lower() for header in dataset.headers or []]
        problems = []
        unknown = [header for header in headers if header and header not in expected]
        if unknown:
            problems.append(f"Unknown columns: {', '.join(unknown)}.")
        duplicated = sorted({header for header in headers if header and headers.count(header) > 1})
        if duplicated:
            problems.append(f"Columns given twice: {', '.join(duplicated)}.")
        missing = [column for column in self.REQUIRED_COLUMNS if column not in headers]
        if missing:
            problems.append(f"Missing required columns: {', '.join(missing)}.")
        rows = [
            row for row in dataset if any(cell not in (None, "") for cell in row)
        ]  # blank lines, as spreadsheets leave them, are not rows
        if len(rows) > MAX_IMPORT_ROWS:
            problems.append(f"At most {MAX_IMPORT_ROWS} rows per file (this has {len(rows)}).")
        if problems:
            dataset.wipe()
            raise ImportFileError(
                " ".join(problems) + f" The columns are: {', '.join(expected)}; required: "
                f"{', '.join(self.REQUIRED_COLUMNS)}."
            )
        position = {header: index for index, header in enumerate(headers) if header}
        reordered = [
            [row[position[column]] if column in position else None for column in expected]
            for row in rows
        ]
        dataset.wipe()
        dataset.headers = expected
        for row in reordered:
            dataset.append(row)

    def import_instance(self, instance, row, **kwargs) -> None:
        if self.organization is None or self.actor is None:
            raise ValidationError("The import has no organization or actor.")
        instance._import_arguments = self.parse_row(row)

    def save_instance(self, instance, is_create, row, **kwargs) -> None:
        """Create the record through the service; in a dry run the caller rolls it back."""
        try:
            # Own savepoint: a failing row leaves nothing behind for the rows after it.
            with transaction.atomic():
                created = self.create_record(instance._import_arguments)
        except DomainError as error:
            raise ValidationError(self.errors_by_column(error)) from None
        # The row result and the preview read the created record from `instance`.
        instance.__dict__.update(created.__dict__)

    def save_m2m(self, instance, row, **kwargs) -> None:
        return None

    def errors_by_column(
        self, error: DomainError, *, occurred_at_column: str = "", prefix: str = ""
    ) -> dict[str, list[str]]:
        """The service's error as {column: messages}; pointers the file has no column for
        (and errors without pointers) are reported on the row."""
        if not isinstance(error, FieldErrors):
            column = next(
                (column for kind, column in self.ERROR_COLUMNS.items() if isinstance(error, kind)),
                NON_FIELD_ERRORS,
            )
            return {column: [prefix + error.detail]}
        pointer_columns = {**self.POINTER_COLUMNS, "occurred_at": occurred_at_column}
        result: dict[str, list[str]] = {}
        for pointer, messages in error.errors.items():
            segments = pointer.strip("/").split("/")
            column = pointer_columns.get(segments[0]) or NON_FIELD_ERRORS
            if segments[0] == "lines" and len(segments) > 1 and segments[1].isdigit():
                messages = [f"Line {int(segments[1]) + 1}: {message}" for message in messages]
            result.setdefault(column, []).extend(prefix + message for message in messages)
        return result

    def export_field(self, field, instance, **kwargs):
        """Preview cells: a dehydrate method if the resource has one, else the attribute."""
        method = getattr(self, f"dehydrate_{field.column_name}", None)
        if method is not None:
            return method(instance)
        value = getattr(instance, field.column_name, "")
        if isinstance(value, dt.datetime):
            # Shown as on the authority's notices: in its time zone.
            authority = instance.authority if getattr(instance, "authority_id", None) else None
            zone = ZoneInfo(authority.time_zone) if authority else timezone.get_default_timezone()
            return timezone.localtime(value, zone).isoformat(sep=" ", timespec="minutes")
        return "" if value is None else value

    def parse_row(self, row: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def create_record(self, arguments: dict[str, Any]) -> Any:
        raise NotImplementedError


def _column(name: str) -> Field:
    return Field(column_name=name, attribute=None)


# --- applications -------------------------------------------------------------------------


def application_steps(status: str, given: set[str]) -> list[str]:
    """The workflow steps from draft to `status` that an import walks.

    A withdrawal goes through the steps whose dates are given (it may happen at any stage).
    """
    if status == Status.DRAFT:
        return []
    if status in _MAIN_LINE:
        return list(_MAIN_LINE[: _MAIN_LINE.index(status) + 1])
    if status == Status.WITHDRAWN:
        reached = [step for step in _MAIN_LINE if STEP_DATE_COLUMNS[step] in given]
        return [*_MAIN_LINE[: _MAIN_LINE.index(reached[-1]) + 1], status] if reached else [status]
    return [*_MAIN_LINE, status]


class ApplicationImportResource(ServiceImportResource):
    """One application per row, created as a draft and walked to its status with its dates."""

    REQUIRED_COLUMNS = (
        "exporter_registration_number",
        "authority",
        "license_type",
        "end_user_name",
        "end_user_country",
        "end_use",
        "destination_country",
        "lines",
    )
    POINTER_COLUMNS = {
        "exporter": "exporter_registration_number",
        "authority": "authority",
        "license_type": "license_type",
        "end_user_name": "end_user_name",
        "end_user_country": "end_user_country",
        "end_user_address": "end_user_address",
        "end_use": "end_use",
        "destination_country": "destination_country",
        "lines": "lines",
        "authority_reference": "authority_reference",
        "license_number": "license_number",
        "valid_from": "valid_from",
        "valid_until": "valid_until",
        "to": "status",
    }
    ERROR_COLUMNS = {InvalidTransition: "status"}

    exporter_registration_number = _column("exporter_registration_number")
    authority = _column("authority")
    license_type = _column("license_type")
    end_user_name = _column("end_user_name")
    end_user_country = _column("end_user_country")
    end_use = _column("end_use")
    destination_country = _column("destination_country")
    lines = _column("lines")
    exporter_country = _column("exporter_country")
    end_user_address = _column("end_user_address")
    is_escalated = _column("is_escalated")
    involves_watch_listed_party = _column("involves_watch_listed_party")
    status = _column("status")
    submitted_at = _column("submitted_at")
    accepted_at = _column("accepted_at")
    review_started_at = _column("review_started_at")
    info_requested_at = _column("info_requested_at")
    decided_at = _column("decided_at")
    authority_reference = _column("authority_reference")
    license_number = _column("license_number")
    valid_from = _column("valid_from")
    valid_until = _column("valid_until")
    decision_note = _column("decision_note")

    class Meta:
        model = LicenseApplication
        name = "Applications (one row per application)"
        fields = (
            "exporter_registration_number",
            "authority",
            "license_type",
            "end_user_name",
            "end_user_country",
            "end_use",
            "destination_country",
            "lines",
            "exporter_country",
            "end_user_address",
            "is_escalated",
            "involves_watch_listed_party",
            "status",
            "submitted_at",
            "accepted_at",
            "review_started_at",
            "info_requested_at",
            "decided_at",
            "authority_reference",
            "license_number",
            "valid_from",
            "valid_until",
            "decision_note",
        )
        import_order = fields
        force_init_instance = True
        use_transactions = True
        clean_model_instances = False

    def parse_row(self, row: dict[str, Any]) -> dict[str, Any]:
        errors = RowErrors()
        cells = Cells(row, errors)
        exporter = self.find_exporter(cells)
        authority_code = cells.text("authority", required=True)
        authority = self.find_authority(authority_code) if authority_code else None
        if authority_code and authority is None:
            errors.add("authority", f"No licensing authority has the code '{authority_code}'.")
        status = cells.choice("status", IMPORTABLE_STATUSES, default=Status.DRAFT)
        time_zone = ZoneInfo(authority.time_zone if authority else "UTC")
        given = {column for column in set(STEP_DATE_COLUMNS.values()) if cells.text(column)}
        steps = application_steps(status, given)
        step_times = []
        for step in steps:
            column = STEP_DATE_COLUMNS[step]
            occurred_at = cells.moment(column, time_zone)
            if occurred_at is None and column not in errors.by_column:
                errors.add(
                    column, f"The date of the step to '{step}' is needed for status '{status}'."
                )
            step_times.append((step, occurred_at))
        for column in sorted(given - {STEP_DATE_COLUMNS[step] for step in steps}):
            errors.add(column, f"Status '{status}' does not go through this step; leave it empty.")
        arguments = {
            "application": {
                "exporter": exporter,
                "authority": authority,
                "license_type": cells.choice("license_type", LicenseType.values),
                "end_user_name": cells.text("end_user_name", required=True, max_length=300),
                "end_user_country": cells.country("end_user_country"),
                "end_user_address": cells.text("end_user_address"),
                "end_use": cells.text("end_use", required=True),
                "destination_country": cells.country("destination_country"),
                "is_escalated": cells.boolean("is_escalated"),
                "involves_watch_listed_party": cells.boolean("involves_watch_listed_party"),
                "lines": [
                    line.as_input()
                    for line in parse_lines(
                        cells.text("lines", required=True),
                        find_item=self.find_item,
                        with_value=True,
                        errors=errors,
                    )
                ],
            },
            "steps": step_times,
            "authority_reference": cells.text("authority_reference", max_length=100),
            "license_number": cells.text("license_number", max_length=100),
            "valid_from": cells.date("valid_from"),
            "valid_until": cells.date("valid_until"),
            "note": cells.text("decision_note"),
        }
        reference = arguments["authority_reference"]
        if reference and authority is not None:
            taken = LicenseApplication.objects.filter(
                organization=self.organization, authority=authority, authority_reference=reference
            ).exists()
            if taken:
                errors.add(
                    "authority_reference",
                    f"An application with the reference {reference} at {authority.code} exists.",
                )
        errors.raise_if_any()
        return arguments

    def create_record(self, arguments: dict[str, Any]) -> LicenseApplication:
        application = application_create(
            organization=self.organization, actor=self.actor, **arguments["application"]
        )
        for step, occurred_at in arguments["steps"]:
            try:
                application_transition(
                    application=application,
                    to_status=step,
                    actor=self.actor,
                    occurred_at=occurred_at,
                    authority_reference=arguments["authority_reference"],
                    license_number=arguments["license_number"],
                    valid_from=arguments["valid_from"],
                    valid_until=arguments["valid_until"],
                    note=arguments["note"],
                )
            except DomainError as error:
                # A transition's occurred_at is the date column of its step.
                raise ValidationError(
                    self.errors_by_column(
                        error,
                        occurred_at_column=STEP_DATE_COLUMNS[step],
                        prefix=f"Moving to '{step}': ",
                    )
                ) from None
        application.refresh_from_db()
        return application

    # The preview shows the application as created.
    def dehydrate_exporter_registration_number(self, application):
        return application.exporter.registration_number if application.exporter_id else ""

    def dehydrate_exporter_country(self, application):
        return str(application.exporter.country) if application.exporter_id else ""

    def dehydrate_authority(self, application):
        return application.authority.code if application.authority_id else ""

    def dehydrate_lines(self, application):
        return format_lines(application.lines.select_related("item")) if application.pk else ""


# --- shipments ----------------------------------------------------------------------------


class ShipmentImportResource(ServiceImportResource):
    """One shipment per row, awaiting its license; `license_application` names the application
    that covers it by its authority reference or license number (coverage is checked)."""

    REQUIRED_COLUMNS = (
        "external_reference",
        "exporter_registration_number",
        "consignee_name",
        "consignee_country",
        "destination_country",
        "required_ship_date",
        "lines",
    )
    POINTER_COLUMNS = {
        "external_reference": "external_reference",
        "exporter": "exporter_registration_number",
        "consignee_name": "consignee_name",
        "consignee_country": "consignee_country",
        "consignee_address": "consignee_address",
        "destination_country": "destination_country",
        "required_ship_date": "required_ship_date",
        "license_application": "license_application",
        "lines": "lines",
    }
    ERROR_COLUMNS = {LicenseNotValid: "license_application", QuantityExceeded: "lines"}

    external_reference = _column("external_reference")
    exporter_registration_number = _column("exporter_registration_number")
    consignee_name = _column("consignee_name")
    consignee_country = _column("consignee_country")
    destination_country = _column("destination_country")
    required_ship_date = _column("required_ship_date")
    lines = _column("lines")
    exporter_country = _column("exporter_country")
    consignee_address = _column("consignee_address")
    license_application = _column("license_application")

    class Meta:
        model = Shipment
        name = "Shipments (one row per shipment)"
        fields = (
            "external_reference",
            "exporter_registration_number",
            "consignee_name",
            "consignee_country",
            "destination_country",
            "required_ship_date",
            "lines",
            "exporter_country",
            "consignee_address",
            "license_application",
        )
        import_order = fields
        force_init_instance = True
        use_transactions = True
        clean_model_instances = False

    def find_application(self, reference: str) -> list[LicenseApplication]:
        return self.cached(
            "application",
            reference,
            lambda: list(
                LicenseApplication.objects.filter(organization=self.organization)
                .filter(Q(authority_reference=reference) | Q(license_number=reference))
                .select_related("authority")[:2]
            ),
        )

    def parse_row(self, row: dict[str, Any]) -> dict[str, Any]:
        errors = RowErrors()
        cells = Cells(row, errors)
        application = None
        reference = cells.text("license_application")
        if reference:
            matches = self.find_application(reference)
            if not matches:
                errors.add(
                    "license_application",
                    f"No application of {self.organization} has the authority reference or "
                    f"license number '{reference}'.",
                )
            elif len(matches) > 1:
                errors.add(
                    "license_application",
                    f"Several applications match '{reference}'; give the license number.",
                )
            else:
                application = matches[0]
        ship_date = cells.date("required_ship_date")
        if ship_date is None and "required_ship_date" not in errors.by_column:
            errors.add("required_ship_date", "This column is required.")
        arguments = {
            "external_reference": cells.text("external_reference", required=True, max_length=100),
            "exporter": self.find_exporter(cells),
            "consignee_name": cells.text("consignee_name", required=True, max_length=300),
            "consignee_country": cells.country("consignee_country"),
            "consignee_address": cells.text("consignee_address"),
            "destination_country": cells.country("destination_country"),
            "required_ship_date": ship_date,
            "license_application": application,
            "lines": [
                line.as_input()
                for line in parse_lines(
                    cells.text("lines", required=True),
                    find_item=self.find_item,
                    with_value=False,
                    errors=errors,
                )
            ],
        }
        errors.raise_if_any()
        return arguments

    def create_record(self, arguments: dict[str, Any]) -> Shipment:
        return shipment_create(organization=self.organization, actor=self.actor, **arguments)

    def dehydrate_exporter_registration_number(self, shipment):
        return shipment.exporter.registration_number if shipment.exporter_id else ""

    def dehydrate_exporter_country(self, shipment):
        return str(shipment.exporter.country) if shipment.exporter_id else ""

    def dehydrate_license_application(self, shipment):
        return str(shipment.license_application) if shipment.license_application_id else ""

    def dehydrate_lines(self, shipment):
        return format_lines(shipment.lines.select_related("item")) if shipment.pk else ""


# --- files --------------------------------------------------------------------------------


class XLSXKeepingFormulas(base_formats.XLSX):
    """XLSX import that reads a formula as its text ("=A1*2"), so the row is refused with a
    clear message instead of importing whatever value the formula last computed.

    Reads at most MAX_IMPORT_ROWS + 1 rows and 100 columns, whatever the sheet claims.
    """

    def create_dataset(self, in_stream):
        import openpyxl
        import tablib

        book = openpyxl.load_workbook(BytesIO(in_stream), read_only=True, data_only=False)
        try:
            rows = book.active.iter_rows(max_col=100, values_only=True)
            headers = next(rows, None)
            if headers is None:
                raise ImportFileError("The spreadsheet is empty.")
            headers = list(headers)
            while headers and headers[-1] in (None, ""):
                headers.pop()
            dataset = tablib.Dataset(headers=headers)
            for row in rows:
                values = list(row[: len(headers)]) + [None] * (len(headers) - len(row))
                if any(value not in (None, "") for value in values):
                    dataset.append(values)
                    if len(dataset) > MAX_IMPORT_ROWS:
                        break
            return dataset
        finally:
            book.close()


IMPORT_FORMATS = [base_formats.CSV, XLSXKeepingFormulas]
EXPORT_FORMATS = [base_formats.CSV, base_formats.XLSX]


# --- exports ------------------------------------------------------------------------------


class SafeExportResource(resources.ModelResource):
    """Exports cells a spreadsheet would run as formulas as text; loads related rows up front."""

    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()

    def export_field(self, field, instance, **kwargs):
        return formula_neutralised(super().export_field(field, instance, **kwargs))

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related(*self.select_related).prefetch_related(
            *self.prefetch_related
        )


def _exported(attribute: str, column: str) -> Field:
    return Field(attribute=attribute, column_name=column, readonly=True)


class ApplicationExportResource(SafeExportResource):
    """The application changelist as officers read it: references, status, parties, delay."""

    select_related = ("organization", "exporter", "authority")
    prefetch_related = ("lines__item",)

    reference = Field(column_name="reference", readonly=True)
    organization = _exported("organization__name", "organization")
    authority = _exported("authority__code", "authority")
    exporter = _exported("exporter__name", "exporter")
    exporter_registration_number = _exported(
        "exporter__registration_number", "exporter_registration_number"
    )
    lines = Field(column_name="lines", readonly=True)

    class Meta:
        model = LicenseApplication
        name = "Applications"
        fields = (
            "reference",
            "authority",
            "authority_reference",
            "license_number",
            "status",
            "license_type",
            "organization",
            "exporter",
            "exporter_registration_number",
            "end_user_name",
            "end_user_country",
            "destination_country",
            "lines",
            "delay_level",
            "statutory_deadline",
            "expected_decision_p50",
            "expected_decision_p90",
            "submitted_at",
            "accepted_at",
            "clock_started_at",
            "decided_at",
            "valid_from",
            "valid_until",
            "is_escalated",
            "involves_watch_listed_party",
        )
        export_order = fields

    def dehydrate_reference(self, application):
        return str(application)

    def dehydrate_lines(self, application):
        return format_lines(application.lines.all())

    def dehydrate_end_user_country(self, application):
        return str(application.end_user_country)

    def dehydrate_destination_country(self, application):
        return str(application.destination_country)


class ShipmentExportResource(SafeExportResource):
    """Shipments with the license that covers them and that license's delay state."""

    select_related = ("organization", "exporter", "license_application__authority")
    prefetch_related = ("lines__item",)

    organization = _exported("organization__name", "organization")
    exporter = _exported("exporter__name", "exporter")
    exporter_registration_number = _exported(
        "exporter__registration_number", "exporter_registration_number"
    )
    license_application = Field(column_name="license_application", readonly=True)
    application_status = _exported("license_application__status", "application_status")
    delay_level = _exported("license_application__delay_level", "delay_level")
    statutory_deadline = _exported("license_application__statutory_deadline", "statutory_deadline")
    expected_decision_p50 = _exported(
        "license_application__expected_decision_p50", "expected_decision_p50"
    )
    expected_decision_p90 = _exported(
        "license_application__expected_decision_p90", "expected_decision_p90"
    )
    lines = Field(column_name="lines", readonly=True)

    class Meta:
        model = Shipment
        name = "Shipments"
        fields = (
            "external_reference",
            "status",
            "organization",
            "exporter",
            "exporter_registration_number",
            "consignee_name",
            "consignee_country",
            "destination_country",
            "required_ship_date",
            "lines",
            "license_application",
            "application_status",
            "delay_level",
            "statutory_deadline",
            "expected_decision_p50",
            "expected_decision_p90",
            "at_risk",
            "license_expiring",
            "shipped_on",
            "delivered_on",
        )
        export_order = fields

    def dehydrate_license_application(self, shipment):
        return str(shipment.license_application) if shipment.license_application_id else ""

    def dehydrate_lines(self, shipment):
        return format_lines(shipment.lines.all())

    def dehydrate_consignee_country(self, shipment):
        return str(shipment.consignee_country)

    def dehydrate_destination_country(self, shipment):
        return str(shipment.destination_country)


class DelayAlertExportResource(SafeExportResource):
    """Alerts with what they are about and who handled them."""

    select_related = ("organization", "application__authority", "shipment")

    organization = _exported("organization__name", "organization")
    application = Field(column_name="application", readonly=True)
    shipment = _exported("shipment__external_reference", "shipment")
    state = _exported("state", "state")

    class Meta:
        model = DelayAlert
        name = "Alerts"
        fields = (
            "raised_at",
            "kind",
            "level",
            "repeat_index",
            "message",
            "organization",
            "application",
            "shipment",
            "wait_elapsed",
            "wait_unit",
            "state",
            "acknowledged_at",
            "acknowledged_by_label",
            "acknowledge_note",
            "resolved_at",
            "resolution",
        )
        export_order = fields

    def dehydrate_application(self, alert):
        return str(alert.application) if alert.application_id else ""


EXPORT_RESOURCES = {
    LicenseApplication: ApplicationExportResource,
    Shipment: ShipmentExportResource,
    DelayAlert: DelayAlertExportResource,
}
