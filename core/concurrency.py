"""Optimistic concurrency on a `version` column, checked inside the write itself."""

from typing import Any

from django.db import models
from django.db.models import F
from django.utils import timezone

from core.errors import PreconditionFailed


def stale_version(instance: models.Model, expected_version: int | None) -> PreconditionFailed:
    """The error for a client whose copy of `instance` is not the current version."""
    return PreconditionFailed(
        f"This {instance._meta.verbose_name} was changed by someone else "
        f"(you sent version {expected_version}); read it again and retry.",
    )


def _update_if_current(
    instance: models.Model, expected_version: int | None, **changes: Any
) -> None:
    """`UPDATE ... SET <changes> WHERE id = %s AND version = %s`, then read the version back.

    The UPDATE locks the row until the surrounding transaction ends; no row means another
    writer got there first (PreconditionFailed). With expected_version None it always applies.
    """
    rows = type(instance)._default_manager.filter(pk=instance.pk)
    if expected_version is not None:
        rows = rows.filter(version=expected_version)
    if not rows.update(**changes):
        raise stale_version(instance, expected_version)
    instance.version = (
        type(instance)._default_manager.values_list("version", flat=True).get(pk=instance.pk)
    )


def lock_version(instance: models.Model, *, expected_version: int | None) -> None:
    """Lock the row for this transaction, only if its version still equals `expected_version`.

    `claim_version` without the bump, for an update: `UPDATE ... SET version = version` takes
    the same row lock and gives the same 412, but an update that turns out to change nothing
    leaves the version (and so the ETag) as it was. One that changes something counts it with
    `instance.version += 1` before its save (the row is locked, so the count is exact).
    """
    _update_if_current(instance, expected_version, version=F("version"))


def claim_version(instance: models.Model, *, expected_version: int | None) -> None:
    """Bump `instance.version` in the database, only if it still equals `expected_version`.

    Runs `UPDATE ... SET version = version + 1 WHERE id = %s AND version = %s`, which also
    locks the row until the surrounding transaction ends: of two writers holding the same
    version, exactly one succeeds and the other gets PreconditionFailed. Call it first in
    the service's transaction. With expected_version None the bump is unconditional.
    For an edit that may change nothing, use `lock_version`.

    The instance's `version` is updated in memory at once (a later `save()` must write the new
    value). When the service then fails and its transaction rolls back, the in-memory value is
    one ahead of the database: reload the instance before using it again (the API always does).
    """
    _update_if_current(
        instance, expected_version, version=F("version") + 1, updated_at=timezone.now()
    )
