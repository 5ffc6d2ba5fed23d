"""What a threshold rule edit would do, before it is saved: which open applications change level.

Pure reading: every open application the rule could concern is assessed twice at one
instant, with the active rules as they are and with the proposed rule in place of the
edited one, by the same rule selection (licensing.thresholds.select_rule) and level
assessment (assess_levels) the delay engine uses. Nothing is written.

Comparing two fresh assessments, rather than the stored level with a fresh one, counts
only what the edit changes; a stored level that is merely stale (the scan has not run
since a day passed) is not attributed to the rule.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from licensing.models import DELAY_LEVEL_RANK, LicenseApplication
from licensing.services.delays import (
    CHECKED_APPLICATION_STATUSES,
    _clock_days,
    active_rules,
    application_scope,
    fallback_rule,
    prefetched_applications,
)
from licensing.thresholds import RuleSpec, assess_levels, select_rule

CHUNK_SIZE = 500


@dataclass
class ThresholdPreview:
    """How many open applications were assessed, and which level moves the edit causes."""

    evaluated: int = 0
    # (level now, level with the edit) -> number of applications
    moves: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> int:
        return sum(self.moves.values())

    @property
    def by_new_level(self) -> dict[str, int]:
        totals: Counter = Counter()
        for (_, new), count in self.moves.items():
            totals[new] += count
        return dict(sorted(totals.items(), key=lambda item: -DELAY_LEVEL_RANK[item[0]]))

    def rows(self) -> list[tuple[str, str, int]]:
        """(from, to, count), the biggest escalations first."""
        return sorted(
            ((old, new, count) for (old, new), count in self.moves.items()),
            key=lambda row: (-DELAY_LEVEL_RANK[row[1]], -DELAY_LEVEL_RANK[row[0]], -row[2]),
        )


def threshold_rule_preview(
    *,
    proposed: RuleSpec | None,
    replaces: uuid.UUID | None = None,
    organization_ids: list | None = None,
    now: dt.datetime | None = None,
) -> ThresholdPreview:
    """Assess the open applications with and without the edit; count the level changes.

    `proposed`: the rule as it would be saved (None, or a rule with is_active unchecked,
    when the edit removes it); `replaces`: the id of the rule being edited (None for a new
    rule). `organization_ids` limits the applications assessed (None: every organization).
    """
    now = now or timezone.now()
    preview = ThresholdPreview()
    applications = LicenseApplication.objects.filter(
        status__in=CHECKED_APPLICATION_STATUSES, clock_started_at__isnull=False
    ).order_by("pk")
    if organization_ids is not None:
        applications = applications.filter(organization_id__in=organization_ids)
    fallback = fallback_rule()
    calendars: dict = {}
    rules_by_organization: dict = {}
    for application in prefetched_applications(applications).iterator(chunk_size=CHUNK_SIZE):
        organization_id = application.organization_id
        if organization_id not in rules_by_organization:
            current = active_rules([organization_id])
            edited = [rule for rule in current if rule.id != replaces]
            if proposed is not None and (proposed.organization_id in (None, organization_id)):
                edited.append(proposed)
            rules_by_organization[organization_id] = (current, edited)
        current, edited = rules_by_organization[organization_id]
        clock, days, _zone = _clock_days(application, now, calendars)
        if days is None or not clock.is_running:
            continue
        preview.evaluated += 1
        scope = application_scope(application)
        before = assess_levels(
            select_rule(current, scope, fallback), days, clock.statutory_deadline
        ).level
        after = assess_levels(
            select_rule(edited, scope, fallback), days, clock.statutory_deadline
        ).level
        if before != after:
            preview.moves[(before, after)] += 1
    return preview
