"""Threshold rule writes. Any change re-evaluates the open applications (on commit, in a task)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

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
from core.errors import FieldErrors
from core.validation import validate_instance
from licensing.models import Organization
from licensing.models.delays import ThresholdLevel, ThresholdRule

RULE_FIELDS = (
    "name",
    "authority",
    "item",
    "material_family",
    "destination_country",
    "exporter",
    "repeat_every",
    "repeat_unit",
    "lead_buffer_days",
    "expiry_warning_days",
    "is_active",
)


@dataclass(frozen=True)
class LevelInput:
    level: str
    after: int | None = None
    unit: str = "working_days"
    at_statutory_deadline: bool = False


def delays_recompute_on_commit(*, calendar_country: str | None = None) -> None:
    """After a rule or calendar change commits, re-evaluate what it may move (in a task)."""
    from licensing.tasks import recompute_delays

    transaction.on_commit(lambda: recompute_delays.delay(calendar_country))


def _levels_summary(levels) -> list[str]:
    return [
        f"{level.level} at the statutory deadline"
        if level.at_statutory_deadline
        else f"{level.level} after {level.after} {level.unit}"
        for level in levels
    ]


def _replace_levels(rule: ThresholdRule, levels: Sequence[LevelInput]) -> None:
    errors: dict[str, list[str]] = {}
    if not levels:
        errors["/levels"] = ["A rule needs at least one level."]
    seen = set()
    for index, level in enumerate(levels):
        if level.level in seen:
            errors[f"/levels/{index}/level"] = [f"The level {level.level!r} is given twice."]
        seen.add(level.level)
        if level.at_statutory_deadline == (level.after is not None):
            errors[f"/levels/{index}"] = [
                "Give either `after` (days) or `at_statutory_deadline`, not both."
            ]
    if errors:
        raise FieldErrors(errors)
    rule.levels.all().delete()
    ThresholdLevel.objects.bulk_create(
        ThresholdLevel(
            rule=rule,
            level=level.level,
            after=level.after,
            unit=level.unit,
            at_statutory_deadline=level.at_statutory_deadline,
        )
        for level in levels
    )


def _check_scope(rule: ThresholdRule) -> None:
    if (
        rule.exporter_id
        and rule.organization_id
        and rule.exporter.organization_id != rule.organization_id
    ):
        raise FieldErrors({"/exporter": ["No such exporter."]})


@transaction.atomic
def threshold_rule_create(
    *, organization: Organization | None, levels: Sequence[LevelInput], actor: Actor, **fields: Any
) -> ThresholdRule:
    """Create a rule for `organization` (None: a default for all, admin only)."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown rule fields: {sorted(unknown)}")
    rule = ThresholdRule(organization=organization, **fields)
    _check_scope(rule)
    validate_instance(rule, exclude=("organization",))
    rule.save()
    _replace_levels(rule, levels)
    audit_record(
        actor=actor,
        instance=rule,
        action=Action.CREATE,
        changes=created_changes(rule) | {"levels": [None, _levels_summary(levels)]},
    )
    delays_recompute_on_commit()
    return rule


@transaction.atomic
def threshold_rule_update(
    *,
    rule: ThresholdRule,
    actor: Actor,
    expected_version: int | None = None,
    levels: Sequence[LevelInput] | None = None,
    **changes: Any,
) -> ThresholdRule:
    """Change a rule and its levels; changing nothing keeps its version and adds no audit row."""
    lock_version(rule, expected_version=expected_version)
    before = field_values(rule)
    for name, value in changes.items():
        if name not in RULE_FIELDS:
            raise TypeError(f"Rule field {name!r} cannot be changed")
        setattr(rule, name, value)
    audited = field_changes(before, field_values(rule))
    previous_levels = _levels_summary(rule.levels.all())
    if levels is not None and _levels_summary(levels) != previous_levels:
        audited["levels"] = [previous_levels, _levels_summary(levels)]
    if not audited:
        return rule
    rule.version += 1
    _check_scope(rule)
    validate_instance(rule, exclude=("organization",))
    rule.save()
    if "levels" in audited:
        _replace_levels(rule, levels)
    audit_record(actor=actor, instance=rule, action=Action.UPDATE, changes=audited)
    delays_recompute_on_commit()
    return rule


@transaction.atomic
def threshold_rule_delete(
    *, rule: ThresholdRule, actor: Actor, expected_version: int | None = None
) -> None:
    claim_version(rule, expected_version=expected_version)
    audit_record(actor=actor, instance=rule, action=Action.DELETE, changes=deleted_changes(rule))
    rule.delete()
    delays_recompute_on_commit()
