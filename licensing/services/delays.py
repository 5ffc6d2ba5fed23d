"""The delay engine's writes: store each application's next crossing, scan what is due,
raise and resolve alerts.

Scale: the scan selects only rows whose `next_check_at` has passed (an indexed column), in
batches locked with `FOR NO KEY UPDATE SKIP LOCKED`, so its cost grows with what is due, not
with what is open, and several workers can scan at once without treading on each other. A
rule or calendar change marks the affected rows due with one UPDATE; the scan does the rest.

Locks, so that concurrent scans (and requests) never deadlock (issue 12):
- rows are locked FOR NO KEY UPDATE, never FOR UPDATE: an alert inserted by another
  transaction checks its foreign keys with FOR KEY SHARE, which FOR UPDATE would block
  until commit while its own transaction holds what this one waits for;
- the scan takes its locks in one order: applications, then their shipments (by id), then
  webhook endpoints (when recording events).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.actors import Actor
from core.audit import Action, AuditEntry, audit_record, audit_record_many, created_changes
from core.calendars import working_calendar
from core.concurrency import claim_version
from licensing.clock import (
    ClockDays,
    StatusEvent,
    StopPeriod,
    _local_date,
    _paused_dates,
    compute_clock,
)
from licensing.forecast import HISTORY_BASES
from licensing.models import (
    ApplicationStatus,
    LicenseApplication,
    Shipment,
    ShipmentStatus,
)
from licensing.models.applications import PENDING_STATUSES
from licensing.models.catalogue import PeriodUnit
from licensing.models.delays import AlertKind, DelayAlert, ThresholdRule
from licensing.models.levels import DelayLevel
from licensing.services.webhooks import webhook_alerts_raised, webhook_alerts_resolved
from licensing.thresholds import (
    ApplicationScope,
    LevelSpec,
    RuleSpec,
    assess_levels,
    assess_license_expiry,
    assess_shipment_risk,
    latest_filing_day,
    select_rule,
)

logger = logging.getLogger(__name__)

# Shipments that still wait for goods to leave; the others have nothing to check.
WAITING_SHIPMENT_STATUSES = (
    ShipmentStatus.AWAITING_LICENSE,
    ShipmentStatus.LICENSED,
    ShipmentStatus.ON_HOLD,
)
# Applications whose clock can run (a draft has no clock yet but may start one).
CHECKED_APPLICATION_STATUSES = tuple(s for s in PENDING_STATUSES if s != ApplicationStatus.DRAFT)
# Who the audit trail names for the engine's own writes (levels, deadlines, alerts): the
# periodic scan, or the engine re-assessing after someone's change, whose request id it shares.
SCAN_ACTOR = Actor.system("scan")
ENGINE_ACTOR = Actor.system("delay-engine")


# -- rules -------------------------------------------------------------------------------------


def fallback_rule() -> RuleSpec:
    """The rule from settings.DELAY_DEFAULT_RULE, used when no rule in the database matches."""
    config = settings.DELAY_DEFAULT_RULE
    return RuleSpec(
        id=None,
        levels=tuple(LevelSpec(**level) for level in config["levels"]),
        repeat_every=config.get("repeat_every"),
        repeat_unit=config.get("repeat_unit", PeriodUnit.WORKING_DAYS),
        lead_buffer_days=config.get("lead_buffer_days", 5),
        expiry_warning_days=config.get("expiry_warning_days", 30),
    )


def rule_spec(rule: ThresholdRule, *, levels: Iterable | None = None) -> RuleSpec:
    """The engine's view of `rule` and its saved levels.

    `levels` stands in for the saved levels: anything with `level`, `after`, `unit` and
    `at_statutory_deadline` (the admin's preview passes the edited, unsaved levels of a rule
    whose fields are set but not saved; its `created_at` is then None, which sorts as newest).
    """
    return RuleSpec(
        id=rule.pk,
        levels=tuple(
            LevelSpec(level.level, level.after, level.unit, level.at_statutory_deadline)
            for level in (rule.levels.all() if levels is None else levels)
        ),
        repeat_every=rule.repeat_every,
        repeat_unit=rule.repeat_unit,
        lead_buffer_days=rule.lead_buffer_days,
        expiry_warning_days=rule.expiry_warning_days,
        organization_id=rule.organization_id,
        authority_id=rule.authority_id,
        item_id=rule.item_id,
        material_family=rule.material_family,
        destination_country=str(rule.destination_country or ""),
        exporter_id=rule.exporter_id,
        created_at=rule.created_at,
    )


def active_rules(organization_ids: Iterable) -> list[RuleSpec]:
    rules = (
        ThresholdRule.objects.filter(is_active=True)
        .filter(Q(organization__isnull=True) | Q(organization_id__in=list(set(organization_ids))))
        .prefetch_related("levels")
    )
    return [rule_spec(rule) for rule in rules]


def application_scope(application: LicenseApplication) -> ApplicationScope:
    lines = list(application.lines.all())
    return ApplicationScope(
        organization_id=application.organization_id,
        authority_id=application.authority_id,
        exporter_id=application.exporter_id,
        destination_country=str(application.destination_country),
        item_ids=frozenset(line.item_id for line in lines),
        material_families=frozenset(line.item.material_family for line in lines),
    )


# -- applications ------------------------------------------------------------------------------


@dataclass
class RefreshReport:
    evaluated: int = 0
    raised: list[DelayAlert] = field(default_factory=list)


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _clock_days(application: LicenseApplication, now: dt.datetime, calendars: dict):
    authority = application.authority
    zone = ZoneInfo(authority.time_zone)
    calendar = _calendar(calendars, authority.calendar_country)
    events = [StatusEvent(c.to_status, c.occurred_at) for c in application.status_changes.all()]
    stops = [StopPeriod(s.started_on, s.ended_on) for s in application.clock_stops.all()]
    clock = compute_clock(
        clock_started_at=application.clock_started_at,
        decided_at=application.decided_at,
        period=authority.review_period,
        unit=authority.review_period_unit,
        zone=zone,
        calendar=calendar,
        events=events,
        stops=stops,
        has_deadline=application.has_statutory_deadline,
        now=now,
    )
    if clock.clock_started_at is None:
        return clock, None, zone
    start = _local_date(clock.clock_started_at, zone)
    today = _local_date(now, zone)
    paused = _paused_dates(events, stops, start=start, end=today, zone=zone)
    return (
        clock,
        ClockDays(start=start, today=today, calendar=calendar, paused=frozenset(paused)),
        zone,
    )


def _pause_goes_on(application: LicenseApplication, today: dt.date) -> bool:
    """True when the clock is still paused tomorrow: an open information request or clock stop."""
    if application.status == ApplicationStatus.INFO_REQUESTED:
        return True
    return any(
        stop.ended_on is None or stop.ended_on > today for stop in application.clock_stops.all()
    )


def _calendar(calendars: dict, country: str):
    """Each calendar read once per batch (working_calendar costs a query per call)."""
    if country not in calendars:
        calendars[country] = working_calendar(country)
    return calendars[country]


def prefetched_applications(queryset: QuerySet[LicenseApplication]) -> QuerySet[LicenseApplication]:
    return queryset.select_related("authority").prefetch_related(
        "status_changes", "clock_stops", "lines__item"
    )


def delay_refresh_applications(
    applications: Sequence[LicenseApplication], *, now: dt.datetime, raise_alerts: bool
) -> RefreshReport:
    """Assess each application (rows locked by the caller) and store its level and next crossing.

    With `raise_alerts` (the scan), insert the alerts for levels reached. Without (a service
    reacting to a change), a reached level that has no alert yet makes the row due now, so
    the next scan raises it: officers often enter a backdated history step by step, and the
    intermediate states must not alert anyone.
    Call inside a transaction, with `status_changes`, `clock_stops` and `lines__item` prefetched.
    """
    report = RefreshReport()
    if not applications:
        return report
    rules = active_rules(a.organization_id for a in applications)
    fallback = fallback_rule()
    existing = set(
        DelayAlert.objects.filter(
            kind=AlertKind.DELAY_LEVEL, application__in=applications
        ).values_list("application_id", "level", "repeat_index")
    )
    open_shipments: dict = defaultdict(list)
    for shipment_id, application_id in Shipment.objects.filter(
        license_application__in=applications, status__in=WAITING_SHIPMENT_STATUSES
    ).values_list("id", "license_application_id"):
        open_shipments[application_id].append(shipment_id)

    new_alerts: list[DelayAlert] = []
    calendars: dict = {}
    deadline_moved: list = []
    audited_before = {a.pk: (a.delay_level, a.statutory_deadline) for a in applications}
    for application in applications:
        report.evaluated += 1
        clock, days, zone = _clock_days(application, now, calendars)
        previous_deadline = application.statutory_deadline
        application.statutory_deadline = clock.statutory_deadline
        if previous_deadline != clock.statutory_deadline:
            deadline_moved.append(application.pk)
        if days is None or not clock.is_running:
            application.delay_level = DelayLevel.NONE
            application.next_check_at = None
            application.next_threshold_level = ""
            application.next_threshold_on = None
            application.delay_rule_id = None
            continue
        rule = select_rule(rules, application_scope(application), fallback)
        assessment = assess_levels(rule, days, clock.statutory_deadline)
        application.delay_level = assessment.level
        application.delay_rule_id = rule.id
        point = assessment.next_point
        application.next_threshold_level = point.level if point else ""
        application.next_threshold_on = point.day if point else None
        application.next_check_at = _local_midnight(point.day, zone) if point else None
        if _pause_goes_on(application, days.today):
            # While the clock is paused, each paused day moves the deadline and every level
            # ahead out by a day: look again tomorrow, so the stored deadline (which the
            # shipments' at-risk check reads) follows the pause.
            tomorrow = _local_midnight(days.today + dt.timedelta(days=1), zone)
            if application.next_check_at is None or application.next_check_at > tomorrow:
                application.next_check_at = tomorrow
        for reached in assessment.reached:
            key = (application.pk, reached.level, reached.repeat_index)
            if key in existing:
                continue
            if not raise_alerts:
                application.next_check_at = now
                continue
            existing.add(key)
            label = (
                f"{reached.level} (repeat {reached.repeat_index})"
                if reached.repeat_index
                else reached.level
            )
            new_alerts.append(
                DelayAlert(
                    organization_id=application.organization_id,
                    kind=AlertKind.DELAY_LEVEL,
                    level=reached.level,
                    repeat_index=reached.repeat_index,
                    application=application,
                    wait_elapsed=clock.elapsed,
                    wait_unit=clock.unit,
                    rule_id=rule.id,
                    message=(
                        f"{application}: {label} — waited {clock.elapsed} "
                        f"{clock.unit.replace('_', ' ')}; statutory deadline "
                        f"{clock.statutory_deadline or 'none'}."
                    ),
                    raised_at=now,
                )
            )
    LicenseApplication.objects.bulk_update(
        applications,
        [
            "statutory_deadline",
            "delay_level",
            "delay_rule",
            "next_threshold_level",
            "next_threshold_on",
            "next_check_at",
        ],
    )
    _audit_level_changes(applications, audited_before, raise_alerts=raise_alerts)
    if deadline_moved:
        # The at-risk check of their shipments reads the stored deadline: look at them now.
        # Before the alerts, whose events lock webhook endpoints: shipments come first.
        shipments_mark_due(application_ids=deadline_moved, now=now)
    report.raised = _insert_alerts(new_alerts, open_shipments_by_application=open_shipments)
    return report


def shipments_mark_due(*, application_ids: Sequence, now: dt.datetime) -> None:
    """Make the waiting shipments of these (locked) applications due at `now`.

    They are locked in id order first: a scan may hold some of them, and a plain UPDATE would
    take the rest in whatever order it meets them. Call inside a transaction.
    """
    ids = list(
        Shipment.objects.filter(
            license_application_id__in=application_ids, status__in=WAITING_SHIPMENT_STATUSES
        )
        .order_by("pk")
        .select_for_update(no_key=True)
        .values_list("pk", flat=True)
    )
    Shipment.objects.filter(pk__in=ids).update(next_check_at=now)


def _audit_level_changes(
    applications: Sequence[LicenseApplication], before: dict, *, raise_alerts: bool
) -> None:
    """One audit row per application whose level or statutory deadline moved, in one INSERT."""
    entries = []
    for application in applications:
        level, deadline = before[application.pk]
        changes = {}
        if level != application.delay_level:
            changes["delay_level"] = [level, application.delay_level]
        if deadline != application.statutory_deadline:
            changes["statutory_deadline"] = [deadline, application.statutory_deadline]
        if changes:
            entries.append(AuditEntry(application, Action.UPDATE, changes))
    audit_record_many(actor=SCAN_ACTOR if raise_alerts else ENGINE_ACTOR, entries=entries)


def _alert_parent(alert: DelayAlert) -> tuple:
    """An alert's history belongs to its subject: its application, or for the shipment kinds its shipment."""
    if alert.kind == AlertKind.DELAY_LEVEL:
        return (LicenseApplication, alert.application_id)
    return (Shipment, alert.shipment_id)


def _insert_alerts(
    alerts: list[DelayAlert], *, open_shipments_by_application: dict
) -> list[DelayAlert]:
    """Insert new alerts (the unique constraints drop duplicates), link escalations and shipments."""
    if not alerts:
        return []
    DelayAlert.objects.bulk_create(alerts, ignore_conflicts=True)
    # With ignore_conflicts the ids we generated are kept only for rows that went in.
    inserted = {a.pk for a in DelayAlert.objects.filter(pk__in=[a.pk for a in alerts]).only("pk")}
    alerts = [a for a in alerts if a.pk in inserted]
    links = []
    through = DelayAlert.shipments.through
    for alert in alerts:
        shipment_ids = (
            [alert.shipment_id]
            if alert.shipment_id
            else open_shipments_by_application.get(alert.application_id, [])
        )
        links.extend(
            through(delayalert_id=alert.pk, shipment_id=shipment_id) for shipment_id in shipment_ids
        )
    through.objects.bulk_create(links, ignore_conflicts=True)
    _link_escalations(alerts)
    # Alerts are only inserted by the scan (other callers leave the row due for it).
    audit_record_many(
        actor=SCAN_ACTOR,
        entries=[
            AuditEntry(alert, Action.CREATE, created_changes(alert), _alert_parent(alert))
            for alert in alerts
        ],
    )
    # The outbox: one event per alert, in this transaction, delivered after commit.
    webhook_alerts_raised(alerts)
    for alert in alerts:
        logger.info("alert raised: %s", alert.message)
    return alerts


def _link_escalations(alerts: list[DelayAlert]) -> None:
    """A higher-level delay alert escalates the open lower-level one of the same application."""
    from licensing.models.levels import DELAY_LEVEL_RANK

    delay_alerts = [a for a in alerts if a.kind == AlertKind.DELAY_LEVEL and a.repeat_index == 0]
    if not delay_alerts:
        return
    previous = defaultdict(list)
    for alert in DelayAlert.objects.filter(
        kind=AlertKind.DELAY_LEVEL, application_id__in={a.application_id for a in delay_alerts}
    ).only("pk", "application_id", "level", "repeat_index"):
        previous[alert.application_id].append(alert)
    changed = []
    for alert in delay_alerts:
        lower = [
            other
            for other in previous[alert.application_id]
            if DELAY_LEVEL_RANK[other.level] < DELAY_LEVEL_RANK[alert.level]
        ]
        if lower:
            alert.escalates_id = max(lower, key=lambda other: DELAY_LEVEL_RANK[other.level]).pk
            changed.append(alert)
    DelayAlert.objects.bulk_update(changed, ["escalates"])


# -- shipments ---------------------------------------------------------------------------------


def prefetched_shipments(queryset: QuerySet[Shipment]) -> QuerySet[Shipment]:
    return queryset.select_related("license_application__authority").prefetch_related(
        Prefetch(
            "lines",
            to_attr="prefetched_lines",
            queryset=Shipment.lines.rel.related_model.objects.select_related("item__authority"),
        ),
        "license_application__lines__item",
    )


def delay_refresh_shipments(
    shipments: Sequence[Shipment], *, now: dt.datetime, raise_alerts: bool
) -> RefreshReport:
    """Assess at-risk and license expiry for each shipment (rows locked by the caller).

    `raise_alerts` as for delay_refresh_applications. Alerts whose condition cleared resolve.
    """
    report = RefreshReport()
    if not shipments:
        return report
    rules = active_rules(s.organization_id for s in shipments)
    fallback = fallback_rule()
    existing = {
        (shipment_id, kind, level): alert_id
        for alert_id, shipment_id, kind, level in DelayAlert.objects.filter(
            shipment__in=shipments, resolved_at__isnull=True
        ).values_list("pk", "shipment_id", "kind", "level")
    }
    ever_raised = set(
        DelayAlert.objects.filter(shipment__in=shipments).values_list(
            "shipment_id", "kind", "level", "repeat_index"
        )
    )
    new_alerts: list[DelayAlert] = []
    calendars: dict = {}
    to_resolve: list = []
    for shipment in shipments:
        report.evaluated += 1
        application = shipment.license_application
        waiting = shipment.status in WAITING_SHIPMENT_STATUSES
        at_risk, expiring, next_day = False, DelayLevel.NONE, None
        authority = application.authority if application else _shipment_authority(shipment)
        if waiting and authority is not None:
            zone = ZoneInfo(authority.time_zone)
            today = _local_date(now, zone)
            calendar = _calendar(calendars, authority.calendar_country)
            rule = select_rule(rules, _shipment_scope(shipment, application, authority), fallback)
            at_risk, expiring, next_day = _assess_shipment(
                shipment, application, authority, rule, today, calendar
            )
        shipment.at_risk = at_risk
        shipment.license_expiring = expiring
        shipment.next_check_at = (
            _local_midnight(next_day, ZoneInfo(authority.time_zone)) if next_day else None
        )
        wanted = set()
        if at_risk:
            wanted.add((AlertKind.AT_RISK, DelayLevel.CRITICAL))
        if expiring != DelayLevel.NONE:
            wanted.add((AlertKind.LICENSE_EXPIRING, expiring))
        for kind, level in wanted:
            if (shipment.pk, kind, level, 0) in ever_raised:
                continue
            if not raise_alerts:
                shipment.next_check_at = now
                continue
            ever_raised.add((shipment.pk, kind, level, 0))
            new_alerts.append(_shipment_alert(shipment, application, kind, level, now))
        for (shipment_id, kind, level), alert_id in existing.items():
            if shipment_id == shipment.pk and (kind, level) not in wanted:
                to_resolve.append(alert_id)
    Shipment.objects.bulk_update(shipments, ["at_risk", "license_expiring", "next_check_at"])
    if to_resolve:
        alerts_resolve(
            alerts=DelayAlert.objects.filter(pk__in=to_resolve),
            reason="The condition cleared.",
            now=now,
            actor=SCAN_ACTOR if raise_alerts else ENGINE_ACTOR,
        )
    report.raised = _insert_alerts(new_alerts, open_shipments_by_application={})
    return report


def _shipment_authority(shipment: Shipment):
    lines = getattr(shipment, "prefetched_lines", None)
    if lines is None:
        lines = list(shipment.lines.select_related("item__authority"))
    return lines[0].item.authority if lines else None


def _shipment_scope(shipment: Shipment, application, authority) -> ApplicationScope:
    lines = getattr(shipment, "prefetched_lines", None) or list(
        shipment.lines.select_related("item")
    )
    return ApplicationScope(
        organization_id=shipment.organization_id,
        authority_id=authority.pk,
        exporter_id=shipment.exporter_id,
        destination_country=str(shipment.destination_country),
        item_ids=frozenset(line.item_id for line in lines),
        material_families=frozenset(line.item.material_family for line in lines),
    )


def _assess_shipment(shipment, application, authority, rule: RuleSpec, today: dt.date, calendar):
    filing_deadline = latest_filing_day(
        shipment.required_ship_date,
        buffer_days=rule.lead_buffer_days,
        period=authority.review_period,
        unit=authority.review_period_unit,
        calendar=calendar,
    )
    if application is not None and application.status == ApplicationStatus.APPROVED:
        expiring, next_day = assess_license_expiry(
            today=today,
            ship_date=shipment.required_ship_date,
            valid_until=application.valid_until,
            warning_days=rule.expiry_warning_days,
        )
        return False, expiring, next_day
    if application is not None and application.status not in PENDING_STATUSES:
        return True, DelayLevel.NONE, None  # denied, withdrawn, expired...: no license is coming
    expected = _expected_decision(application) if application is not None else None
    if expected is not None:
        # A day that passed without a decision: the decision is expected any day from today.
        expected = max(expected, today)
    at_risk, next_day = assess_shipment_risk(
        today=today,
        ship_date=shipment.required_ship_date,
        buffer_days=rule.lead_buffer_days,
        expected_decision=expected,
        filing_deadline=filing_deadline,
    )
    return at_risk, DelayLevel.NONE, next_day


def _expected_decision(application: LicenseApplication) -> dt.date | None:
    """The forecast's p90 when it rests on history, else the statutory deadline (issue 7)."""
    if (
        application.expected_decision_p90 is not None
        and application.expected_decision_basis in HISTORY_BASES
    ):
        return application.expected_decision_p90
    return application.statutory_deadline


def _shipment_alert(
    shipment: Shipment, application, kind: str, level: str, now: dt.datetime
) -> DelayAlert:
    if kind == AlertKind.AT_RISK:
        message = (
            f"Shipment {shipment.external_reference} is at risk: the license decision is not expected "
            f"before its required ship date {shipment.required_ship_date}."
        )
    elif level == DelayLevel.CRITICAL:
        message = (
            f"Shipment {shipment.external_reference}: license {application.license_number} expires on "
            f"{application.valid_until}, before the required ship date {shipment.required_ship_date}."
        )
    else:
        message = (
            f"Shipment {shipment.external_reference}: license {application.license_number} expires on "
            f"{application.valid_until} and the shipment has not left."
        )
    return DelayAlert(
        organization_id=shipment.organization_id,
        kind=kind,
        level=level,
        application=application,
        shipment=shipment,
        message=message,
        raised_at=now,
    )


# -- scan --------------------------------------------------------------------------------------


@dataclass
class ScanReport:
    applications: int = 0
    shipments: int = 0
    raised: list[DelayAlert] = field(default_factory=list)


def delays_scan(*, now: dt.datetime | None = None, batch_size: int | None = None) -> ScanReport:
    """Evaluate every application and shipment whose next check is due, batch by batch.

    Each batch is one transaction holding its rows with FOR NO KEY UPDATE SKIP LOCKED, so
    concurrent scans split the work (see the module docstring for the lock order). Safe to
    run twice: alerts are unique in the database.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.DELAY_SCAN_BATCH_SIZE
    report = ScanReport()
    while True:
        with transaction.atomic():
            ids = list(
                LicenseApplication.objects.filter(next_check_at__lte=now)
                .order_by("next_check_at")
                .select_for_update(skip_locked=True, no_key=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            batch = list(prefetched_applications(LicenseApplication.objects.filter(pk__in=ids)))
            result = delay_refresh_applications(batch, now=now, raise_alerts=True)
            # A row whose next check is still due (nothing further to reach) must not loop.
            LicenseApplication.objects.filter(pk__in=ids, next_check_at__lte=now).update(
                next_check_at=None
            )
        report.applications += result.evaluated
        report.raised.extend(result.raised)
    while True:
        with transaction.atomic():
            ids = list(
                Shipment.objects.filter(next_check_at__lte=now)
                .order_by("next_check_at")
                .select_for_update(skip_locked=True, no_key=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            batch = list(prefetched_shipments(Shipment.objects.filter(pk__in=ids)))
            result = delay_refresh_shipments(batch, now=now, raise_alerts=True)
            Shipment.objects.filter(pk__in=ids, next_check_at__lte=now).update(next_check_at=None)
        report.shipments += result.evaluated
        report.raised.extend(result.raised)
    return report


def delays_mark_due(*, now: dt.datetime | None = None, calendar_country: str | None = None) -> int:
    """Mark open applications and waiting shipments due now (after a rule or calendar change).

    One UPDATE per table: the scan then re-evaluates them in batches.
    """
    now = now or timezone.now()
    applications = LicenseApplication.objects.filter(status__in=CHECKED_APPLICATION_STATUSES)
    shipments = Shipment.objects.filter(status__in=WAITING_SHIPMENT_STATUSES)
    if calendar_country:
        applications = applications.filter(authority__calendar_country=calendar_country)
        # Shipments follow their application's calendar, or without one their items' authority's.
        shipments = shipments.filter(
            Q(license_application__authority__calendar_country=calendar_country)
            | Q(
                license_application__isnull=True,
                lines__item__authority__calendar_country=calendar_country,
            )
        ).distinct()
    marked = applications.update(next_check_at=now)
    marked += shipments.update(next_check_at=now)
    return marked


# -- alerts ------------------------------------------------------------------------------------


def alerts_resolve(
    *, alerts: QuerySet[DelayAlert], reason: str, now: dt.datetime, actor: Actor = ENGINE_ACTOR
) -> int:
    """Resolve the open alerts among `alerts` and record an alert.resolved event for each."""
    resolved = list(
        alerts.filter(resolved_at__isnull=True)
        .select_for_update(no_key=True)
        .only("pk", "organization_id", "kind", "application_id", "shipment_id", "message")
    )
    ids = [alert.pk for alert in resolved]
    count = DelayAlert.objects.filter(pk__in=ids, resolved_at__isnull=True).update(
        resolved_at=now, resolution=reason
    )
    changes = {"resolved_at": [None, now], "resolution": ["", reason]}
    audit_record_many(
        actor=actor,
        entries=[
            AuditEntry(alert, Action.UPDATE, changes, _alert_parent(alert)) for alert in resolved
        ],
    )
    webhook_alerts_resolved(ids)
    return count


def delay_after_application_change(
    application: LicenseApplication, *, now: dt.datetime
) -> RefreshReport:
    """Re-assess one application (and its shipments) after a change, in the caller's transaction."""
    fresh = list(prefetched_applications(LicenseApplication.objects.filter(pk=application.pk)))
    report = delay_refresh_applications(fresh, now=now, raise_alerts=False)
    if application.status not in PENDING_STATUSES:
        alerts_resolve(
            alerts=DelayAlert.objects.filter(application=application, kind=AlertKind.DELAY_LEVEL),
            reason=f"The application is {application.status}.",
            now=now,
        )
    elif fresh and fresh[0].statutory_deadline is None:
        # Escalated, or a watch-listed party: there is no deadline left to be overdue against.
        alerts_resolve(
            alerts=DelayAlert.objects.filter(
                application=application, kind=AlertKind.DELAY_LEVEL, level=DelayLevel.OVERDUE
            ),
            reason="No statutory deadline applies any more (escalated, or a watch-listed party).",
            now=now,
        )
    shipments = list(
        prefetched_shipments(
            Shipment.objects.filter(license_application=application)
            .order_by("pk")
            .select_for_update(of=("self",), no_key=True)
        )
    )
    report.raised.extend(delay_refresh_shipments(shipments, now=now, raise_alerts=False).raised)
    return report


def delay_after_shipment_change(shipment: Shipment, *, now: dt.datetime) -> RefreshReport:
    """Re-assess one shipment after a change, in the caller's transaction."""
    fresh = list(prefetched_shipments(Shipment.objects.filter(pk=shipment.pk)))
    if fresh and fresh[0].status in (
        ShipmentStatus.CANCELLED,
        ShipmentStatus.SHIPPED,
        ShipmentStatus.DELIVERED,
    ):
        alerts_resolve(
            alerts=DelayAlert.objects.filter(shipment=shipment),
            reason=f"The shipment is {fresh[0].status}.",
            now=now,
        )
    return delay_refresh_shipments(fresh, now=now, raise_alerts=False)


@transaction.atomic
def alert_acknowledge(*, alert: DelayAlert, actor: Actor, note: str = "") -> DelayAlert:
    """Mark an alert as seen. Acknowledging twice keeps the first acknowledgement (safe to retry)."""
    locked = DelayAlert.objects.select_for_update().get(pk=alert.pk)
    if locked.acknowledged_at is None:
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = actor.user
        locked.acknowledged_by_label = actor.label
        locked.acknowledge_note = note
        locked.save(
            update_fields=[
                "acknowledged_at",
                "acknowledged_by",
                "acknowledged_by_label",
                "acknowledge_note",
            ]
        )
        claim_version(locked, expected_version=None)
        audit_record(
            actor=actor,
            instance=locked,
            action=Action.UPDATE,
            changes={
                "acknowledged_at": [None, locked.acknowledged_at],
                "acknowledged_by_label": ["", actor.label],
                "acknowledge_note": ["", note],
            },
            parent=_alert_parent(locked),
        )
    return locked
