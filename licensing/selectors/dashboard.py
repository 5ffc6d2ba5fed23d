"""The figures of the "Delays" dashboard: open applications by delay level, by group, by age.

Constant query count: counts are grouped in the database; the ageing histogram needs each
open application's wait on the authority's clock, which is computed in Python from four
set-based reads (the started applications, their authorities, the status changes of those
that ever had information requested, their clock stops) plus one per calendar country,
never one per application. Waits are net of pauses, in working days on the authority's
calendar, whatever unit its statutory period uses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django_countries import countries

from core.charts import Bucket, buckets_from_edges, histogram_counts
from licensing.models import (
    ApplicationLine,
    DelayAlert,
    DelayLevel,
    LicenseApplication,
    MaterialFamily,
    PeriodUnit,
)
from licensing.models.applications import PENDING_STATUSES
from licensing.selectors.memberships import scope_to_member_organizations
from licensing.selectors.running_clocks import running_clocks

# Working-day buckets of the ageing histogram; 45 is CN-MOFCOM's statutory period.
AGEING_EDGES = (0, 11, 21, 31, 41, 46)
OLDEST_LIMIT = 20
RECENT_ALERT_DAYS = 7
RECENT_ALERT_LIMIT = 50
BREAKDOWN_LIMIT = 10
ALERT_LEVELS = (DelayLevel.WARNING, DelayLevel.CRITICAL, DelayLevel.OVERDUE)


@dataclass(frozen=True)
class GroupCount:
    """Open applications of one group (an authority, a family, ...) and how many are late."""

    key: str
    label: str
    open: int
    warning: int
    critical: int
    overdue: int


@dataclass(frozen=True)
class Breakdown:
    """The largest groups, and what the groups left out add up to."""

    rows: list[GroupCount]
    others: int = 0
    other_groups: int = 0


@dataclass(frozen=True)
class WaitingApplication:
    application: LicenseApplication
    wait_working_days: int


@dataclass(frozen=True)
class DelayDashboard:
    as_of: dt.datetime
    open_total: int
    by_level: dict[str, int]
    by_authority: Breakdown
    by_material_family: Breakdown
    by_destination: Breakdown
    by_exporter: Breakdown
    ageing_buckets: list[Bucket]
    ageing_counts: list[int]
    clock_not_started: int
    oldest: list[WaitingApplication]
    recent_alerts: list[DelayAlert]
    recent_alert_count: int
    waits: list[int] = field(default_factory=list, repr=False)


def applications_visible_to(user) -> QuerySet[LicenseApplication]:
    """Every application for an active superuser; otherwise those of the user's organizations."""
    return scope_to_member_organizations(LicenseApplication.objects.all(), user)


def alerts_visible_to(user) -> QuerySet[DelayAlert]:
    return scope_to_member_organizations(DelayAlert.objects.all(), user)


def _level_counts(prefix: str = "", *, distinct: bool = False) -> dict:
    target = f"{prefix}id"
    return {
        "open": Count(target, distinct=distinct),
        **{
            str(level): Count(
                target, distinct=distinct, filter=Q(**{f"{prefix}delay_level": level})
            )
            for level in ALERT_LEVELS
        },
    }


def _breakdown(rows: list[dict], key: str, label) -> Breakdown:
    counts = sorted(
        (
            GroupCount(
                key=str(row[key]),
                label=label(row),
                open=row["open"],
                warning=row[DelayLevel.WARNING],
                critical=row[DelayLevel.CRITICAL],
                overdue=row[DelayLevel.OVERDUE],
            )
            for row in rows
        ),
        key=lambda group: (-group.open, group.label),
    )
    rest = counts[BREAKDOWN_LIMIT:]
    return Breakdown(
        rows=counts[:BREAKDOWN_LIMIT],
        others=sum(group.open for group in rest),
        other_groups=len(rest),
    )


def delay_dashboard(*, user, now: dt.datetime | None = None) -> DelayDashboard:
    """The dashboard's figures for `user`: all organizations for a superuser, else their own."""
    now = now or timezone.now()
    open_applications = applications_visible_to(user).filter(status__in=PENDING_STATUSES)

    totals = open_applications.aggregate(
        total=Count("id"),
        **{
            f"level_{level}": Count("id", filter=Q(delay_level=level))
            for level in DelayLevel.values
        },
    )
    by_level = {level: totals[f"level_{level}"] for level in DelayLevel.values}

    by_authority = _breakdown(
        list(
            open_applications.values("authority_id", "authority__code").annotate(**_level_counts())
        ),
        "authority_id",
        lambda row: row["authority__code"],
    )
    by_destination = _breakdown(
        list(open_applications.values("destination_country").annotate(**_level_counts())),
        "destination_country",
        lambda row: f"{countries.name(row['destination_country'])} ({row['destination_country']})",
    )
    by_exporter = _breakdown(
        list(open_applications.values("exporter_id", "exporter__name").annotate(**_level_counts())),
        "exporter_id",
        lambda row: row["exporter__name"],
    )
    # An application with lines of two families counts once in each.
    by_material_family = _breakdown(
        list(
            ApplicationLine.objects.filter(application__in=open_applications)
            .values("item__material_family")
            .annotate(**_level_counts("application__", distinct=True))
        ),
        "item__material_family",
        lambda row: MaterialFamily.label_of(row["item__material_family"]),
    )

    started = open_applications.filter(clock_started_at__isnull=False)
    clocks = running_clocks(started, now=now, unit=PeriodUnit.WORKING_DAYS)
    waits = {pk: (clock.elapsed, clock.clock_started_at) for pk, clock in clocks.items()}
    buckets = buckets_from_edges(AGEING_EDGES)
    # Longest wait first; among equal waits, the earlier clock start.
    oldest_ids = sorted(waits, key=lambda pk: (-waits[pk][0], waits[pk][1], str(pk)))[:OLDEST_LIMIT]
    oldest_rows = LicenseApplication.objects.select_related("authority", "exporter").in_bulk(
        oldest_ids
    )
    oldest = [WaitingApplication(oldest_rows[pk], waits[pk][0]) for pk in oldest_ids]

    recent = alerts_visible_to(user).filter(
        raised_at__gte=now - dt.timedelta(days=RECENT_ALERT_DAYS)
    )
    recent_alerts = list(
        recent.select_related("application__authority", "shipment").order_by("-raised_at", "id")[
            :RECENT_ALERT_LIMIT
        ]
    )
    recent_count = len(recent_alerts) if len(recent_alerts) < RECENT_ALERT_LIMIT else recent.count()

    return DelayDashboard(
        as_of=now,
        open_total=totals["total"],
        by_level=by_level,
        by_authority=by_authority,
        by_material_family=by_material_family,
        by_destination=by_destination,
        by_exporter=by_exporter,
        ageing_buckets=buckets,
        ageing_counts=histogram_counts((wait for wait, _ in waits.values()), buckets),
        clock_not_started=totals["total"] - len(waits),
        oldest=oldest,
        recent_alerts=recent_alerts,
        recent_alert_count=recent_count,
        waits=[wait for wait, _ in waits.values()],
    )
