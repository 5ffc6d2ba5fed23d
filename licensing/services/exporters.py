"""Exporter writes."""

from typing import Any

from django.db import IntegrityError, transaction

from core.actors import Actor
from core.audit import (
    Action,
    audit_record,
    created_changes,
    deleted_changes,
    field_changes,
    field_values,
)
from core.concurrency import claim_version, lock_version
from core.errors import FieldErrors, StateConflict
from core.validation import validate_instance
from licensing.models import Exporter, Organization

EXPORTER_EDITABLE_FIELDS = (
    "name",
    "country",
    "registration_number",
    "address",
    "contact_name",
    "contact_email",
    "contact_phone",
)


def _save_exporter(exporter: Exporter) -> None:
    validate_instance(exporter, exclude=("organization",))
    try:
        with transaction.atomic():
            exporter.save()
    except IntegrityError:
        # A concurrent writer took the same (country, registration number) after full_clean.
        raise FieldErrors(
            {
                "/registration_number": [
                    "An exporter with this country and registration number exists."
                ]
            }
        ) from None


@transaction.atomic
def exporter_create(*, organization: Organization, actor: Actor, **fields: Any) -> Exporter:
    """Create an exporter of `organization`; a CN registration number must be a valid USCC."""
    unknown = set(fields) - set(EXPORTER_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown exporter fields: {sorted(unknown)}")
    exporter = Exporter(organization=organization, **fields)
    _save_exporter(exporter)
    audit_record(
        actor=actor, instance=exporter, action=Action.CREATE, changes=created_changes(exporter)
    )
    return exporter


@transaction.atomic
def exporter_update(
    *, exporter: Exporter, actor: Actor, expected_version: int | None = None, **changes: Any
) -> Exporter:
    """Change an exporter's fields; with expected_version, only if nobody changed it meanwhile.

    Changing nothing writes nothing: the version (the ETag) stays, and no audit row is added.
    """
    lock_version(exporter, expected_version=expected_version)
    before = field_values(exporter)
    for field, value in changes.items():
        if field not in EXPORTER_EDITABLE_FIELDS:
            raise TypeError(f"Exporter field {field!r} cannot be changed")
        setattr(exporter, field, value)
    audited = field_changes(before, field_values(exporter))
    if not audited:
        return exporter
    exporter.version += 1
    _save_exporter(exporter)
    audit_record(actor=actor, instance=exporter, action=Action.UPDATE, changes=audited)
    return exporter


@transaction.atomic
def exporter_delete(
    *, exporter: Exporter, actor: Actor, expected_version: int | None = None
) -> None:
    """Delete an exporter that no application or shipment refers to."""
    claim_version(exporter, expected_version=expected_version)
    if exporter.applications.exists() or exporter.shipments.exists():
        raise StateConflict(
            "This exporter is referred to by license applications or shipments and cannot be deleted."
        )
    audit_record(
        actor=actor, instance=exporter, action=Action.DELETE, changes=deleted_changes(exporter)
    )
    exporter.delete()
