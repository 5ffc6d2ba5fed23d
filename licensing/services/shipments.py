"""Shipment writes, and the license coverage rules they must satisfy.

Coverage: a shipment linked to an application must match its exporter and destination,
list only items the application lists, and fit in the quantity not yet drawn by other
shipments (cancelled ones release theirs). A single license covers one shipment. The
application row is locked while this is checked, so two shipments racing for the last
quantity are decided one after the other: exactly one wins.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor
from core.audit import (
    Action,
    audit_record,
    audit_transition,
    created_changes,
    deleted_changes,
    field_values,
)
from core.concurrency import claim_version, lock_version
from core.errors import (
    FieldErrors,
    InvalidTransition,
    LicenseNotValid,
    QuantityExceeded,
    StateConflict,
)
from core.request_id import current_request_id
from core.validation import validate_instance
from licensing.models import (
    ApplicationStatus,
    LicenseApplication,
    LicenseType,
    Organization,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    ShipmentStatusChange,
)
from licensing.models.quantities import convert_quantity, unit_dimension
from licensing.models.shipments import QUANTITY_RELEASING_STATUSES, SHIPMENT_TRANSITIONS
from licensing.services.applications import application_transition
from licensing.services.delays import delay_after_shipment_change
from licensing.services.lines import LineInput, changes_with_lines, lines_summary

SHIPMENT_FIELDS = (
    "external_reference",
    "exporter",
    "consignee_name",
    "consignee_country",
    "consignee_address",
    "destination_country",
    "required_ship_date",
    "license_application",
)
# Ship dates outside this span are typos (and would overflow date arithmetic).
EARLIEST_SHIP_DATE = dt.date(2000, 1, 1)
LATEST_SHIP_DATE = dt.date(2100, 12, 31)
# Once goods have left, the record is history.
EDITABLE_STATUSES = (
    ShipmentStatus.AWAITING_LICENSE,
    ShipmentStatus.LICENSED,
    ShipmentStatus.ON_HOLD,
)
# An application in these statuses can no longer cover a new shipment.
NOT_COVERING_STATUSES = (
    ApplicationStatus.DENIED,
    ApplicationStatus.WITHDRAWN,
    ApplicationStatus.EXPIRED,
    ApplicationStatus.REVOKED,
    ApplicationStatus.EXHAUSTED,
)


def _format_quantity(quantity: Decimal, unit: str) -> str:
    return f"{quantity.normalize():f} {unit}"


def _check_coverage(
    shipment: Shipment, application: LicenseApplication, lines: Sequence[LineInput]
) -> None:
    """Raise unless `application` (locked by the caller) can cover `shipment` with `lines`."""
    if application.organization_id != shipment.organization_id:
        raise FieldErrors({"/license_application": ["No such license application."]})
    if application.status in NOT_COVERING_STATUSES:
        raise LicenseNotValid(
            f"License application {application} is '{application.status}' and covers no shipment."
        )
    errors: dict[str, list[str]] = {}
    if application.exporter_id != shipment.exporter_id:
        errors["/license_application"] = ["The application is for another exporter."]
    elif application.destination_country != shipment.destination_country:
        errors["/license_application"] = [
            f"The application is for destination {application.destination_country}, "
            f"not {shipment.destination_country}."
        ]
    if errors:
        raise FieldErrors(errors)

    others = Shipment.objects.filter(license_application=application).exclude(pk=shipment.pk)
    others = others.exclude(status__in=QUANTITY_RELEASING_STATUSES)
    if application.license_type == LicenseType.SINGLE and others.exists():
        used_by = others.values_list("external_reference", flat=True).first()
        raise LicenseNotValid(
            f"A single license covers one shipment; shipment {used_by} already uses this one."
        )

    licensed: dict[Any, tuple[Decimal, str]] = {}
    for line in application.lines.select_related("item"):
        total, unit = licensed.get(line.item_id, (Decimal(0), line.unit))
        licensed[line.item_id] = (
            total + convert_quantity(line.quantity, from_unit=line.unit, to_unit=unit),
            unit,
        )

    requested: dict[Any, Decimal] = defaultdict(Decimal)
    for index, line in enumerate(lines):
        if line.item.pk not in licensed:
            errors[f"/lines/{index}/item"] = [
                f"Item {line.item.control_code} is not on license application {application}."
            ]
            continue
        unit = licensed[line.item.pk][1]
        if unit_dimension(line.unit) != unit_dimension(unit):
            errors[f"/lines/{index}/unit"] = [
                f"The license counts this item in {unit}, not {line.unit}."
            ]
            continue
        requested[line.item.pk] += convert_quantity(
            line.quantity, from_unit=line.unit, to_unit=unit
        )
    if errors:
        raise FieldErrors(errors)

    drawn: dict[Any, Decimal] = defaultdict(Decimal)
    for item_id, quantity, unit in ShipmentLine.objects.filter(
        shipment__in=others, item_id__in=list(requested)
    ).values_list("item_id", "quantity", "unit"):
        drawn[item_id] += convert_quantity(quantity, from_unit=unit, to_unit=licensed[item_id][1])

    shortfalls = []
    for item_id, wanted in requested.items():
        total, unit = licensed[item_id]
        remaining = total - drawn[item_id]
        if wanted > remaining:
            shortfalls.append((item_id, wanted, remaining, unit))
    if shortfalls:
        codes = {line.item.pk: line.item.control_code for line in lines}
        raise QuantityExceeded(
            "; ".join(
                f"{codes[item_id]}: {_format_quantity(max(remaining, Decimal(0)), unit)} remaining on "
                f"the license, {_format_quantity(wanted, unit)} requested"
                for item_id, wanted, remaining, unit in shortfalls
            )
            + ".",
            extra={
                "shortfalls": [
                    {
                        "item": codes[item_id],
                        "remaining": str(max(remaining, Decimal(0))),
                        "requested": str(wanted),
                        "unit": unit,
                    }
                    for item_id, wanted, remaining, unit in shortfalls
                ]
            },
        )


def _lock_application(application: LicenseApplication | None) -> LicenseApplication | None:
    if application is None:
        return None
    return LicenseApplication.objects.select_for_update(no_key=True).get(pk=application.pk)


def _check_lines(lines: Sequence[LineInput]) -> None:
    errors = {
        f"/lines/{index}/quantity": ["The quantity must be greater than zero."]
        for index, line in enumerate(lines)
        if line.quantity <= 0
    }
    if not lines:
        errors["/lines"] = ["A shipment needs at least one line."]
    if errors:
        raise FieldErrors(errors)


def _save_shipment(shipment: Shipment) -> None:
    if shipment.exporter.organization_id != shipment.organization_id:
        raise FieldErrors({"/exporter": ["No such exporter."]})
    if not EARLIEST_SHIP_DATE <= shipment.required_ship_date <= LATEST_SHIP_DATE:
        raise FieldErrors(
            {
                "/required_ship_date": [
                    f"Give a date from {EARLIEST_SHIP_DATE} to {LATEST_SHIP_DATE}."
                ]
            }
        )
    validate_instance(shipment, exclude=("organization",))
    try:
        with transaction.atomic():
            shipment.save()
    except IntegrityError:
        raise FieldErrors(
            {"/external_reference": ["A shipment with this external reference exists."]}
        ) from None


def _replace_lines(shipment: Shipment, lines: Sequence[LineInput]) -> None:
    shipment.lines.all().delete()
    ShipmentLine.objects.bulk_create(
        ShipmentLine(
            shipment=shipment,
            position=index,
            item=line.item,
            quantity=line.quantity,
            unit=line.unit,
        )
        for index, line in enumerate(lines)
    )


@transaction.atomic
def shipment_create(
    *,
    organization: Organization,
    actor: Actor,
    lines: Sequence[LineInput],
    **fields: Any,
) -> Shipment:
    """Create a shipment; when it names a license application, check that it is covered."""
    unknown = set(fields) - set(SHIPMENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown shipment fields: {sorted(unknown)}")
    _check_lines(lines)
    shipment = Shipment(organization=organization, **fields)
    application = _lock_application(shipment.license_application)
    if application is not None:
        _check_coverage(shipment, application, lines)
    _save_shipment(shipment)
    _replace_lines(shipment, lines)
    audit_record(
        actor=actor,
        instance=shipment,
        action=Action.CREATE,
        changes=created_changes(shipment) | {"lines": [None, lines_summary(lines)]},
    )
    delay_after_shipment_change(shipment, now=timezone.now())
    return shipment


@transaction.atomic
def shipment_update(
    *,
    shipment: Shipment,
    actor: Actor,
    expected_version: int | None = None,
    lines: Sequence[LineInput] | None = None,
    **changes: Any,
) -> Shipment:
    """Edit a shipment that has not left; coverage is checked again when it could change.

    Changing nothing writes nothing: the version (the ETag) stays, and no audit row is added.
    """
    lock_version(shipment, expected_version=expected_version)
    shipment.refresh_from_db(fields=["status"])
    if shipment.status not in EDITABLE_STATUSES:
        raise StateConflict(f"A shipment that is '{shipment.status}' cannot be edited.")
    before = field_values(shipment)
    for field, value in changes.items():
        if field not in SHIPMENT_FIELDS:
            raise TypeError(f"Shipment field {field!r} cannot be changed")
        setattr(shipment, field, value)
    if lines is not None:
        _check_lines(lines)
    if shipment.status == ShipmentStatus.LICENSED and "license_application" in changes:
        new_application = shipment.license_application
        if new_application is None or new_application.status != ApplicationStatus.APPROVED:
            raise StateConflict(
                "A licensed shipment must stay covered by an approved license; move it back to "
                "'awaiting_license' before linking another application."
            )
    application = _lock_application(shipment.license_application)
    if application is not None:
        current_lines = (
            lines
            if lines is not None
            else [
                LineInput(item=line.item, quantity=line.quantity, unit=line.unit)
                for line in shipment.lines.select_related("item")
            ]
        )
        _check_coverage(shipment, application, current_lines)
    audited = changes_with_lines(before, shipment, lines)
    if not audited:
        return shipment
    shipment.version += 1
    _save_shipment(shipment)
    if "lines" in audited:
        _replace_lines(shipment, lines)
    audit_record(actor=actor, instance=shipment, action=Action.UPDATE, changes=audited)
    delay_after_shipment_change(shipment, now=timezone.now())
    return shipment


@transaction.atomic
def shipment_delete(
    *, shipment: Shipment, actor: Actor, expected_version: int | None = None
) -> None:
    """Delete a shipment that has not left; shipped ones are kept as records (cancel instead)."""
    claim_version(shipment, expected_version=expected_version)
    shipment.refresh_from_db(fields=["status"])
    if shipment.status in (ShipmentStatus.SHIPPED, ShipmentStatus.DELIVERED):
        raise StateConflict(
            f"A shipment that is '{shipment.status}' is a record and cannot be deleted."
        )
    audit_record(
        actor=actor, instance=shipment, action=Action.DELETE, changes=deleted_changes(shipment)
    )
    shipment.delete()


def _approved_license(
    shipment: Shipment, *, on: dt.date, require_started: bool
) -> LicenseApplication:
    """The shipment's approved license, unexpired on `on` (and started, for shipping)."""
    application = shipment.license_application
    if application is None:
        raise LicenseNotValid("No license application covers this shipment; link one first.")
    if application.status != ApplicationStatus.APPROVED:
        raise LicenseNotValid(
            f"License application {application} is '{application.status}', not 'approved'."
        )
    starts, ends = application.valid_from, application.valid_until
    if (require_started and on < starts) or on > ends:
        raise LicenseNotValid(
            f"License {application.license_number} is valid from {starts} to {ends}, not on {on}."
        )
    return application


@transaction.atomic
def shipment_transition(
    *,
    shipment: Shipment,
    to_status: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> ShipmentStatusChange:
    """Move a shipment to `to_status`; `shipped` needs an approved license valid that day.

    Shipping under a single license spends it: the application moves to `exhausted`.
    """
    now = timezone.now()
    claim_version(shipment, expected_version=expected_version)
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join.
    locked = (
        Shipment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("license_application")
        .get(pk=shipment.pk)
    )
    if to_status not in ShipmentStatus.values:
        raise FieldErrors(
            {
                "/to": [
                    f"'{to_status}' is not a status. Statuses: {', '.join(ShipmentStatus.values)}."
                ]
            }
        )
    allowed = SHIPMENT_TRANSITIONS[locked.status]
    if to_status not in allowed:
        raise InvalidTransition(current=locked.status, requested=to_status, allowed=list(allowed))
    occurred_at = occurred_at or now
    if timezone.is_naive(occurred_at):
        raise FieldErrors({"/occurred_at": ["Give a time zone, e.g. 2025-10-09T10:00:00+08:00."]})
    if occurred_at > now:
        raise FieldErrors({"/occurred_at": ["occurred_at cannot be in the future."]})
    before = field_values(locked)
    day = timezone.localdate(occurred_at)
    if to_status == ShipmentStatus.LICENSED:
        _approved_license(locked, on=day, require_started=False)
    if to_status == ShipmentStatus.SHIPPED:
        application = _approved_license(locked, on=day, require_started=True)
        locked.shipped_on = day
    if to_status == ShipmentStatus.DELIVERED:
        locked.delivered_on = day
    from_status = locked.status
    locked.status = to_status
    locked.save()
    change = ShipmentStatusChange.objects.create(
        shipment=locked,
        from_status=from_status,
        to_status=to_status,
        occurred_at=occurred_at,
        actor=actor.user,
        actor_label=actor.label,
        note=note,
        request_id=current_request_id(),
    )
    audit_transition(
        actor=actor, instance=locked, before=before, occurred_at=occurred_at, note=note
    )
    if to_status == ShipmentStatus.SHIPPED and application.license_type == LicenseType.SINGLE:
        application_transition(
            application=application,
            to_status=ApplicationStatus.EXHAUSTED,
            actor=actor,
            # Never before the approval itself, even when the shipment was backdated to that day.
            occurred_at=max(occurred_at, application.decided_at or occurred_at),
            note=f"Spent by shipment {locked.external_reference}.",
        )
    delay_after_shipment_change(locked, now=now)
    for field in ("status", "version", "shipped_on", "delivered_on"):
        setattr(shipment, field, getattr(locked, field))
    return change
