"""License application writes: create, edit while in draft, move through the workflow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
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
from core.errors import FieldErrors, InvalidTransition, StateConflict
from core.request_id import current_request_id
from core.validation import validate_instance
from licensing.clock import clock_window
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
    StatusChange,
)
from licensing.models.applications import APPLICATION_TRANSITIONS, PENDING_STATUSES
from licensing.services.delays import delay_after_application_change
from licensing.services.forecasts import forecast_after_application_change
from licensing.services.lines import LineInput, changes_with_lines, lines_summary
from licensing.services.webhooks import webhook_application_status_changed

# Editable only while the application is a draft: after submission they are the authority's record.
DRAFT_FIELDS = (
    "exporter",
    "authority",
    "license_type",
    "end_user_name",
    "end_user_country",
    "end_user_address",
    "end_use",
    "destination_country",
)
# Facts learned during the review; editable while the authority has not decided.
PENDING_FIELDS = ("is_escalated", "involves_watch_listed_party", "authority_reference")

Status = ApplicationStatus
DECISION_STATUSES = (Status.APPROVED, Status.DENIED, Status.WITHDRAWN)
# No export-license event the service tracks predates this; earlier dates are typos.
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Fields a transition may set, copied back onto the caller's instance.
_TRANSITION_FIELDS = (
    "authority_reference",
    "license_number",
    "valid_from",
    "valid_until",
    "decision_note",
    "submitted_at",
    "accepted_at",
    "clock_started_at",
    "decided_at",
)


def _check_belongs(application: LicenseApplication) -> None:
    errors: dict[str, list[str]] = {}
    if application.exporter.organization_id != application.organization_id:
        errors["/exporter"] = ["No such exporter."]
    if errors:
        raise FieldErrors(errors)


def _check_lines(authority: LicensingAuthority, lines: Sequence[LineInput]) -> None:
    errors: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        if line.item.authority_id != authority.pk:
            errors[f"/lines/{index}/item"] = [
                f"Item {line.item.control_code} is controlled by {line.item.authority.code}, "
                f"not by {authority.code}."
            ]
        if line.quantity <= 0:
            errors[f"/lines/{index}/quantity"] = ["The quantity must be greater than zero."]
        if line.value is not None and not line.currency:
            errors[f"/lines/{index}/currency"] = ["A currency is needed when a value is given."]
    if errors:
        raise FieldErrors(errors)


def _replace_lines(application: LicenseApplication, lines: Sequence[LineInput]) -> None:
    _check_lines(application.authority, lines)
    application.lines.all().delete()
    rows = [
        ApplicationLine(
            application=application,
            position=index,
            item=line.item,
            quantity=line.quantity,
            unit=line.unit,
            value=line.value,
            currency=line.currency.upper(),
        )
        for index, line in enumerate(lines)
    ]
    for index, row in enumerate(rows):
        validate_instance(row, prefix=f"/lines/{index}", exclude=("application",))
    ApplicationLine.objects.bulk_create(rows)


@transaction.atomic
def application_create(
    *,
    organization: Organization,
    exporter: Exporter,
    authority: LicensingAuthority,
    license_type: str,
    end_user_name: str,
    end_user_country: str,
    end_use: str,
    destination_country: str,
    actor: Actor,
    end_user_address: str = "",
    lines: Sequence[LineInput] = (),
    is_escalated: bool = False,
    involves_watch_listed_party: bool = False,
) -> LicenseApplication:
    """Create a draft application with its lines."""
    application = LicenseApplication(
        organization=organization,
        exporter=exporter,
        authority=authority,
        license_type=license_type,
        end_user_name=end_user_name,
        end_user_country=end_user_country,
        end_user_address=end_user_address,
        end_use=end_use,
        destination_country=destination_country,
        is_escalated=is_escalated,
        involves_watch_listed_party=involves_watch_listed_party,
    )
    _check_belongs(application)
    validate_instance(application)
    application.save()
    _replace_lines(application, lines)
    audit_record(
        actor=actor,
        instance=application,
        action=Action.CREATE,
        changes=created_changes(application) | {"lines": [None, lines_summary(lines)]},
    )
    return application


@transaction.atomic
def application_update(
    *,
    application: LicenseApplication,
    actor: Actor,
    expected_version: int | None = None,
    lines: Sequence[LineInput] | None = None,
    **changes: Any,
) -> LicenseApplication:
    """Edit an application: every field while in draft, the review facts until the decision.

    Changing nothing writes nothing: the version (the ETag) stays, and no audit row is added.
    """
    lock_version(application, expected_version=expected_version)
    application.refresh_from_db(fields=["status"])
    before = field_values(application)
    is_draft = application.status == Status.DRAFT
    for field, value in changes.items():
        if field in DRAFT_FIELDS:
            if not is_draft:
                raise StateConflict(
                    f"'{field}' can only be changed while the application is a draft; "
                    f"it is '{application.status}'."
                )
        elif field in PENDING_FIELDS:
            if application.status not in PENDING_STATUSES:
                raise StateConflict(
                    f"'{field}' cannot be changed after the decision; the application is "
                    f"'{application.status}'."
                )
        else:
            raise TypeError(f"Application field {field!r} cannot be changed")
        setattr(application, field, value)
    if lines is not None and not is_draft:
        raise StateConflict(
            f"Lines can only be changed while the application is a draft; it is '{application.status}'."
        )
    audited = changes_with_lines(before, application, lines)
    if not audited:
        return application
    application.version += 1
    _check_belongs(application)
    validate_instance(application)
    application.save()
    if "lines" in audited:
        _replace_lines(application, lines)
    audit_record(actor=actor, instance=application, action=Action.UPDATE, changes=audited)
    if application.status != Status.DRAFT:
        # Escalation or a watch-listed party removes the statutory deadline.
        forecast_after_application_change(application, now=timezone.now())
        delay_after_application_change(application, now=timezone.now())
    return application


@transaction.atomic
def application_delete(
    *, application: LicenseApplication, actor: Actor, expected_version: int | None = None
) -> None:
    """Delete a draft; once submitted, an application is withdrawn instead."""
    claim_version(application, expected_version=expected_version)
    application.refresh_from_db(fields=["status"])
    if application.status != Status.DRAFT:
        raise StateConflict(
            f"Only a draft can be deleted; this application is '{application.status}'. "
            "Withdraw it instead."
        )
    if application.shipments.exists():
        raise StateConflict("Shipments refer to this application; unlink them first.")
    audit_record(
        actor=actor,
        instance=application,
        action=Action.DELETE,
        changes=deleted_changes(application),
    )
    application.delete()


def _check_occurred_at(
    application: LicenseApplication, occurred_at: dt.datetime, now: dt.datetime
) -> None:
    if timezone.is_naive(occurred_at):
        raise FieldErrors({"/occurred_at": ["Give a time zone, e.g. 2025-10-09T10:00:00+08:00."]})
    if occurred_at > now:
        raise FieldErrors({"/occurred_at": ["occurred_at cannot be in the future."]})
    if occurred_at < EARLIEST_EVENT:
        raise FieldErrors(
            {"/occurred_at": [f"occurred_at cannot precede {EARLIEST_EVENT:%Y-%m-%d}."]}
        )
    last = (
        StatusChange.objects.filter(application=application)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if last and occurred_at < last:
        raise FieldErrors(
            {
                "/occurred_at": [
                    f"occurred_at cannot precede the previous status change ({last.isoformat()})."
                ]
            }
        )


def _apply_target_requirements(
    application: LicenseApplication,
    to_status: str,
    *,
    authority_reference: str,
    license_number: str,
    valid_from: dt.date | None,
    valid_until: dt.date | None,
    decision_note: str,
) -> None:
    errors: dict[str, list[str]] = {}
    if authority_reference:
        application.authority_reference = authority_reference
    if to_status == Status.SUBMITTED and not application.lines.exists():
        errors["/lines"] = ["An application needs at least one line before it is submitted."]
    if to_status == Status.ACCEPTED and not application.authority_reference:
        errors["/authority_reference"] = [
            "The authority's application number is needed on acceptance."
        ]
    if to_status == Status.APPROVED:
        if not license_number:
            errors["/license_number"] = ["The license number is needed on approval."]
        if not valid_from:
            errors["/valid_from"] = ["The first day of validity is needed on approval."]
        if not valid_until:
            errors["/valid_until"] = ["The last day of validity is needed on approval."]
        if valid_from and valid_until and valid_until < valid_from:
            errors["/valid_until"] = ["valid_until cannot precede valid_from."]
        application.license_number = license_number
        application.valid_from = valid_from
        application.valid_until = valid_until
    if errors:
        raise FieldErrors(errors)
    if decision_note and to_status in DECISION_STATUSES:
        application.decision_note = decision_note


def _stamp_times(application: LicenseApplication, to_status: str, occurred_at: dt.datetime) -> None:
    if to_status == Status.SUBMITTED:
        application.submitted_at = occurred_at
    if to_status == Status.ACCEPTED:
        application.accepted_at = occurred_at
    if to_status == application.authority.clock_start_event:
        application.clock_started_at = occurred_at
    if to_status in DECISION_STATUSES:
        application.decided_at = occurred_at


@transaction.atomic
def application_transition(
    *,
    application: LicenseApplication,
    to_status: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    authority_reference: str = "",
    license_number: str = "",
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    expected_version: int | None = None,
) -> StatusChange:
    """Move an application to `to_status` and record the StatusChange in the same transaction.

    `occurred_at` is the date on the authority's notice: it may be backdated, never in the
    future, and never before the previous change. Raises InvalidTransition naming the
    statuses allowed from the current one.
    """
    now = timezone.now()
    claim_version(application, expected_version=expected_version)
    # of=("self",): lock the application only, not its authority and exporter rows, which
    # every other application of that authority (or exporter) would otherwise wait for.
    locked = (
        LicenseApplication.objects.select_for_update(of=("self",), no_key=True)
        .select_related("authority", "exporter")
        .get(pk=application.pk)
    )
    if to_status not in Status.values:
        raise FieldErrors(
            {"/to": [f"'{to_status}' is not a status. Statuses: {', '.join(Status.values)}."]}
        )
    allowed = APPLICATION_TRANSITIONS[locked.status]
    if to_status not in allowed:
        raise InvalidTransition(current=locked.status, requested=to_status, allowed=list(allowed))
    occurred_at = occurred_at or now
    _check_occurred_at(locked, occurred_at, now)
    before = field_values(locked)
    _apply_target_requirements(
        locked,
        to_status,
        authority_reference=authority_reference,
        license_number=license_number,
        valid_from=valid_from,
        valid_until=valid_until,
        decision_note=note,
    )
    from_status = locked.status
    locked.status = to_status
    _stamp_times(locked, to_status, occurred_at)
    locked.save()
    change = StatusChange.objects.create(
        application=locked,
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
    webhook_application_status_changed([change])
    # The window first: the shipments' at-risk check below reads its p90.
    forecast_after_application_change(locked, now=now)
    delay_after_application_change(locked, now=now)
    # The caller's instance reflects the new state, as after any service call.
    for field in ("status", "version", *_TRANSITION_FIELDS):
        setattr(application, field, getattr(locked, field))
    return change


def check_clock_stop_dates(
    application: LicenseApplication, *, started_on: dt.date, ended_on: dt.date | None
) -> None:
    """Refuse a clock stop outside the clock: from its start to today, or to the decision."""
    window = clock_window(application)
    if window is None:
        raise StateConflict(
            "The authority's clock has not started for this application; "
            "a clock stop can be recorded once it runs."
        )
    first, last = window
    last_name = "the decision" if application.decided_at else "today at the authority"
    errors: dict[str, list[str]] = {}
    if not first <= started_on <= last:
        errors["/started_on"] = [
            f"A clock stop lies on the clock: give a date from {first} (the clock's start) "
            f"to {last} ({last_name})."
        ]
    if ended_on is not None:
        earliest = started_on if first <= started_on <= last else first
        if not earliest <= ended_on <= last:
            errors["/ended_on"] = [
                f"A clock stop ends on or after its start, by {last} ({last_name}): "
                f"give a date from {earliest} to {last}."
            ]
    if errors:
        raise FieldErrors(errors)


@transaction.atomic
def clock_stop_record(
    *,
    application: LicenseApplication,
    kind: str,
    started_on: dt.date,
    actor: Actor,
    ended_on: dt.date | None = None,
    note: str = "",
) -> ClockStop:
    """Record a period (expert review, on-site verification, technical identification) that
    does not count towards the deadline. Only while the clock can run."""
    locked = (
        LicenseApplication.objects.select_for_update(of=("self",), no_key=True)
        .select_related("authority")
        .get(pk=application.pk)
    )
    if locked.status not in PENDING_STATUSES or locked.status == Status.DRAFT:
        raise StateConflict(
            f"Clock stops apply while the authority reviews the application; it is '{locked.status}'."
        )
    check_clock_stop_dates(locked, started_on=started_on, ended_on=ended_on)
    stop = ClockStop(
        application=locked,
        kind=kind,
        started_on=started_on,
        ended_on=ended_on,
        note=note,
        actor_label=actor.label,
        request_id=current_request_id(),
    )
    validate_instance(stop, exclude=("application",))
    stop.save()
    audit_record(
        actor=actor,
        instance=stop,
        action=Action.CREATE,
        changes=created_changes(stop),
        parent=locked,
    )
    claim_version(locked, expected_version=None)
    forecast_after_application_change(locked, now=timezone.now())
    delay_after_application_change(locked, now=timezone.now())
    return stop


@transaction.atomic
def clock_stop_end(*, clock_stop: ClockStop, ended_on: dt.date, actor: Actor) -> ClockStop:
    """Close an open clock stop."""
    locked = ClockStop.objects.select_for_update().get(pk=clock_stop.pk)
    if locked.ended_on is not None:
        raise StateConflict(f"This clock stop already ended on {locked.ended_on}.")
    check_clock_stop_dates(locked.application, started_on=locked.started_on, ended_on=ended_on)
    locked.ended_on = ended_on
    validate_instance(locked, exclude=("application",))
    locked.save()
    audit_record(
        actor=actor,
        instance=locked,
        action=Action.UPDATE,
        changes={"ended_on": [None, ended_on]},
        parent=locked.application,
    )
    claim_version(locked.application, expected_version=None)
    forecast_after_application_change(locked.application, now=timezone.now())
    delay_after_application_change(locked.application, now=timezone.now())
    return locked
