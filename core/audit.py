"""The audit trail: record who changed what, when and under which request id.

Services call `audit_record` (or `audit_record_many` for a batch) inside their own
transaction, so the change and its audit row commit or roll back together: a failed
request leaves no row. The request id is read from core.request_id, so an API write's
row carries the X-Request-ID its response returned, and a task's row the id of its scope.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.actors import Actor
from core.models import ObjectChange
from core.request_id import current_request_id

# Five years, leap days included (5 x 365 + 2): the shortest retention allowed (settings refuse less).
AUDIT_RETENTION_MIN_DAYS = 1827
# Secrets: their values never reach the audit trail (only the fact that they changed), nor
# the Idempotency-Key store (core.api.idempotency keeps null in their place).
REDACTED_FIELDS = frozenset({"secret", "previous_secret", "hashed_key", "password"})
REDACTED = "[redacted]"
# Bookkeeping that every save moves (or that the row's own time says); recording it is noise.
IGNORED_FIELDS = frozenset({"created_at", "updated_at", "version"})

Action = ObjectChange.Action
Changes = Mapping[str, tuple[Any, Any] | list[Any]]


# The object whose history a row also belongs to: an instance, or (model, primary key)
# when only the key is at hand (an alert's application_id), to spare a query.
Parent = models.Model | tuple[type[models.Model], Any] | None


@dataclass(frozen=True)
class AuditEntry:
    """One object's change in a batch for `audit_record_many`."""

    instance: models.Model
    action: str
    changes: Changes
    parent: Parent = None


def plain(value: Any) -> Any:
    """A JSON-safe, human-readable form of a field value (a model instance becomes its key)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | QuerySet):
        return [plain(item) for item in value]
    return str(value)


def _clean(changes: Changes) -> dict[str, list[Any]]:
    cleaned = {}
    for field, (before, after) in changes.items():
        if field in IGNORED_FIELDS:
            continue
        if field in REDACTED_FIELDS:
            cleaned[field] = [REDACTED if before else None, REDACTED if after else None]
        else:
            cleaned[field] = [plain(before), plain(after)]
    return cleaned


def field_values(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete field values by field name (foreign keys as their ids)."""
    return {
        field.name: field.value_from_object(instance)
        for field in instance._meta.concrete_fields
        if not field.primary_key and field.name not in IGNORED_FIELDS
    }


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the fields whose values differ."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if plain(before.get(name)) != plain(value)
    }


def created_changes(instance: models.Model) -> dict[str, list[Any]]:
    """`{field: [None, value]}` for each field of a new row that holds a value."""
    return {
        name: [None, value]
        for name, value in field_values(instance).items()
        if value not in (None, "")
    }


def deleted_changes(instance: models.Model) -> dict[str, list[Any]]:
    """`{field: [value, None]}` for each field of a row about to be deleted."""
    return {
        name: [value, None]
        for name, value in field_values(instance).items()
        if value not in (None, "")
    }


def _content_type(model: models.Model | type[models.Model]) -> ContentType:
    # get_for_model is cached per process: no query per row.
    return ContentType.objects.get_for_model(model, for_concrete_model=False)


def _organization_id(entry: AuditEntry) -> str:
    """The tenant of the changed object: its own `organization_id`, else its parent's.

    An organization is its own tenant. Rows of objects without one (calendar exceptions,
    authorities, items) are shared reference data and stay blank.
    """
    if entry.instance._meta.model_name == "organization":
        return str(entry.instance.pk)
    for candidate in (entry.instance, entry.parent):
        if candidate is None or isinstance(candidate, tuple):  # a (model, id) parent: no instance
            continue
        # Read from the instance's dict: a deferred field must not cost a query per row.
        organization_id = vars(candidate).get("organization_id")
        if organization_id:
            return str(organization_id)
    return ""


def _row(actor: Actor, entry: AuditEntry, *, request_id: str, now: dt.datetime) -> ObjectChange:
    parent_type, parent_id = None, ""
    if isinstance(entry.parent, tuple):
        parent_type, parent_id = _content_type(entry.parent[0]), str(entry.parent[1])
    elif entry.parent is not None:
        parent_type, parent_id = _content_type(entry.parent), str(entry.parent.pk)
    return ObjectChange(
        time=now,
        user=actor.user if getattr(actor.user, "pk", None) else None,
        actor_label=actor.label[:200],
        request_id=request_id,
        action=entry.action,
        content_type=_content_type(entry.instance),
        object_id=str(entry.instance.pk),
        object_repr=str(entry.instance)[:200],
        parent_content_type=parent_type,
        parent_object_id=parent_id,
        changes=_clean(entry.changes),
        organization_id=_organization_id(entry),
    )


def audit_record(
    *,
    actor: Actor,
    instance: models.Model,
    action: str,
    changes: Changes | None = None,
    parent: Parent = None,
) -> ObjectChange:
    """Record one change of `instance`, in the caller's transaction.

    `changes` maps field names to (before, after); on create, before is None.
    """
    entry = AuditEntry(instance=instance, action=action, changes=changes or {}, parent=parent)
    row = _row(actor, entry, request_id=current_request_id(), now=timezone.now())
    row.save(force_insert=True)
    return row


def audit_transition(
    *,
    actor: Actor,
    instance: models.Model,
    before: Mapping[str, Any],
    occurred_at: Any,
    note: str = "",
) -> ObjectChange:
    """Record a workflow transition: the fields it changed since `before`, when, and the note."""
    changes = field_changes(before, field_values(instance)) | {"occurred_at": [None, occurred_at]}
    if note:
        changes["note"] = [None, note]
    return audit_record(actor=actor, instance=instance, action=Action.TRANSITION, changes=changes)


def audit_record_many(*, actor: Actor, entries: Iterable[AuditEntry]) -> list[ObjectChange]:
    """Record a batch of changes with one INSERT (the delay scan's level changes and alerts)."""
    request_id, now = current_request_id(), timezone.now()
    rows = [_row(actor, entry, request_id=request_id, now=now) for entry in entries]
    if rows:
        ObjectChange.objects.bulk_create(rows)
    return rows


def audit_recorded_in_request(instance: models.Model) -> bool:
    """True when a row for `instance` was already written under the current request id.

    The admin asks this before writing its own row, so a save that went through a service
    is recorded once, by the service, with the service's view of what changed.
    """
    request_id = current_request_id()
    if not request_id:
        return False
    return ObjectChange.objects.filter(
        request_id=request_id,
        content_type=_content_type(instance),
        object_id=str(instance.pk),
    ).exists()


def audit_history(instance: models.Model) -> QuerySet[ObjectChange]:
    """The rows of `instance` and of the objects that name it as parent, newest first."""
    content_type = _content_type(instance)
    object_id = str(instance.pk)
    return (
        ObjectChange.objects.filter(
            Q(content_type=content_type, object_id=object_id)
            | Q(parent_content_type=content_type, parent_object_id=object_id)
        )
        .select_related("user", "content_type")
        .order_by("-time", "-id")
    )


def audit_retention_days() -> int:
    """settings.AUDIT_RETENTION_DAYS, refused when shorter than five years."""
    days = settings.AUDIT_RETENTION_DAYS
    if days < AUDIT_RETENTION_MIN_DAYS:
        raise ImproperlyConfigured(
            f"AUDIT_RETENTION_DAYS is {days}; the audit trail is kept at least "
            f"{AUDIT_RETENTION_MIN_DAYS} days (5 years)."
        )
    return days


@transaction.atomic
def audit_purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the audit rows older than the retention period; returns how many went.

    The only deletion of audit rows anywhere: no permission grants one, in the admin or not.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=audit_retention_days())
    deleted, _ = ObjectChange.objects.filter(time__lt=cutoff).delete()
    return deleted
