"""Webhook writes: record events (a transactional outbox), deliver them, sweep, manage endpoints.

Recording writes the event and one delivery per endpoint that wants it in the caller's
transaction, and queues the delivery tasks on commit: a rolled-back change sends nothing,
and a committed one is never lost, because a delivery whose task never ran (lost on-commit
hook, broker down, dead worker) is found by `webhook_deliveries_sweep`.

Delivering claims the delivery with a short lease and opens its attempt in one transaction,
makes the HTTP call outside any transaction, and closes the attempt and records the next step
in another: a worker killed during the call leaves the open attempt in the log, and the next
attempt marks it interrupted. The event
builders (`alert_event_data`, ...) keep payloads small: ids, API links and the few fields a
consumer acts on; it reads the rest from the API.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

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
from core.webhooks.http import DeliveryError, attempt_budget_seconds, post
from core.webhooks.signing import InvalidSecret, secret_generate, secret_key, signed_headers
from core.webhooks.ssrf import TargetError, check_url
from licensing.models import (
    DelayAlert,
    DeliveryStatus,
    LicenseApplication,
    Organization,
    Shipment,
    StatusChange,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)
from licensing.models.delays import AlertKind

logger = logging.getLogger(__name__)

PAYLOAD_MAX_BYTES = 20_000
# An alert lists at most this many of its shipments (with the total), to stay small.
MAX_LISTED_SHIPMENTS = 50
MAX_NOTE_CHARS = 2000
# The sweeper queues a delivery again when its last sweep is older than this.
SWEEP_REQUEUE_SECONDS = 300
# What the log says of an attempt whose worker stopped (killed, lost) before it was closed.
INTERRUPTED_ATTEMPT = "Interrupted: the worker stopped before the outcome was recorded."
ENDPOINT_EDITABLE_FIELDS = ("url", "description", "event_types", "is_active")


# -- payloads ------------------------------------------------------------------------------------


def _api_url(basename: str, pk: Any) -> str:
    path = reverse(f"v1:{basename}-detail", kwargs={"id": pk})
    return settings.WEBHOOK_API_BASE_URL.rstrip("/") + path


def _ref(basename: str, pk: Any) -> dict[str, str] | None:
    return None if pk is None else {"id": str(pk), "url": _api_url(basename, pk)}


def _application_data(application: LicenseApplication | None) -> dict[str, Any] | None:
    if application is None:
        return None
    return {
        **_ref("license-application", application.pk),  # type: ignore[dict-item]
        "status": application.status,
        "authority_reference": application.authority_reference,
        "license_number": application.license_number,
        "statutory_deadline": application.statutory_deadline,
        "valid_until": application.valid_until,
    }


def _shipment_data(shipment: Shipment | None) -> dict[str, Any] | None:
    if shipment is None:
        return None
    return {
        **_ref("shipment", shipment.pk),  # type: ignore[dict-item]
        "external_reference": shipment.external_reference,
        "status": shipment.status,
        "required_ship_date": shipment.required_ship_date,
    }


def alert_event_type(alert: DelayAlert) -> str:
    """The one event an alert's raising sends: consumers learn of each alert exactly once.

    A delay alert that escalates a lower level sends `alert.escalated`; an at-risk alert
    `shipment.at_risk`; a license-expiring alert `license.expiring`; any other `alert.raised`.
    """
    if alert.kind == AlertKind.AT_RISK:
        return WebhookEventType.SHIPMENT_AT_RISK
    if alert.kind == AlertKind.LICENSE_EXPIRING:
        return WebhookEventType.LICENSE_EXPIRING
    if alert.escalates_id:
        return WebhookEventType.ALERT_ESCALATED
    return WebhookEventType.ALERT_RAISED


def alert_event_data(alert: DelayAlert, *, shipment_ids: Sequence[Any] | None = None) -> dict:
    """The `data` of an alert's events. `shipment_ids`: the affected shipments, if known."""
    if shipment_ids is None:
        shipment_ids = [s.pk for s in alert.shipments.all()]
    wait = (
        None
        if alert.wait_elapsed is None
        else {"elapsed": alert.wait_elapsed, "unit": alert.wait_unit}
    )
    return {
        "alert": {
            **_ref("alert", alert.pk),  # type: ignore[dict-item]
            "kind": alert.kind,
            "level": alert.level,
            "repeat_index": alert.repeat_index,
            "state": alert.state,
            "message": alert.message,
            "wait": wait,
            "raised_at": alert.raised_at,
            "resolved_at": alert.resolved_at,
            "resolution": alert.resolution,
            "escalates": _ref("alert", alert.escalates_id),
            "shipments": [_ref("shipment", pk) for pk in list(shipment_ids)[:MAX_LISTED_SHIPMENTS]],
            "shipments_count": len(shipment_ids),
        },
        "application": _application_data(alert.application) if alert.application_id else None,
        "shipment": _shipment_data(alert.shipment) if alert.shipment_id else None,
    }


def application_status_changed_data(change: StatusChange) -> dict:
    """The `data` of `license_application.status_changed`."""
    return {
        "application": _application_data(change.application),
        "change": {
            "id": str(change.pk),
            "from_status": change.from_status,
            "to_status": change.to_status,
            "occurred_at": change.occurred_at,
            "note": change.note[:MAX_NOTE_CHARS],
        },
    }


def test_event_data(endpoint: WebhookEndpoint) -> dict:
    """The `data` of `webhook.test`."""
    return {
        "endpoint": {"id": str(endpoint.pk), "url": _api_url("webhook-endpoint", endpoint.pk)},
        "message": "A test event, sent on request. Verify its signature and answer 2xx.",
    }


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _fitted(data: dict[str, Any]) -> dict[str, Any]:
    """`data`, or its top-level references only when it would exceed the payload limit."""
    if len(_render(data).encode()) <= PAYLOAD_MAX_BYTES - 500:
        return data
    logger.error("webhook payload over %s bytes: sending references only", PAYLOAD_MAX_BYTES)
    return {
        "truncated": True,
        **{
            name: {"id": value.get("id"), "url": value.get("url")}
            for name, value in data.items()
            if isinstance(value, dict)
        },
    }


# -- recording (the outbox) ------------------------------------------------------------------


@dataclass(frozen=True)
class EventInput:
    """One event to record: whose, which type, and its data (see the builders above)."""

    organization_id: Any
    type: str
    data: dict[str, Any]


def webhook_events_record(
    *,
    organization: Organization,
    event_type: str,
    data: dict[str, Any],
    endpoints: Sequence[WebhookEndpoint] | None = None,
) -> WebhookEvent:
    """Record one event and its deliveries in the caller's transaction; queue them on commit."""
    (event,) = webhook_events_record_many(
        [EventInput(organization.pk, event_type, data)], endpoints=endpoints
    )
    return event


def webhook_events_record_many(
    events: Sequence[EventInput], *, endpoints: Sequence[WebhookEndpoint] | None = None
) -> list[WebhookEvent]:
    """Record events and one delivery per active endpoint that wants each, in one go.

    Runs in the caller's transaction (a savepoint when there is one). The endpoints are
    locked while sequence numbers are taken, so each endpoint's sequence follows commit
    order. `endpoints` limits the targets (the test event goes to one endpoint only).
    """
    if not events:
        return []
    unknown = {event.type for event in events} - set(WebhookEventType.values)
    if unknown:
        raise ValueError(f"Unknown webhook event types: {sorted(unknown)}")
    now = timezone.now()
    timestamp = now.isoformat().replace("+00:00", "Z")
    with transaction.atomic():
        targets = WebhookEndpoint.objects.filter(
            organization_id__in={event.organization_id for event in events}, is_active=True
        )
        if endpoints is not None:
            targets = targets.filter(pk__in=[endpoint.pk for endpoint in endpoints])
        by_organization: dict[Any, list[WebhookEndpoint]] = defaultdict(list)
        for endpoint in targets.order_by("pk").select_for_update():
            by_organization[endpoint.organization_id].append(endpoint)

        rows: list[WebhookEvent] = []
        deliveries: list[WebhookDelivery] = []
        touched: dict[Any, WebhookEndpoint] = {}
        for event in events:
            data = _fitted(event.data)
            payload = {"type": event.type, "timestamp": timestamp, "data": data}
            row = WebhookEvent(
                organization_id=event.organization_id,
                type=event.type,
                payload=json.loads(_render(payload)),
            )
            rows.append(row)
            for endpoint in by_organization[event.organization_id]:
                if not endpoint.wants(event.type):
                    continue
                sequence = endpoint.next_sequence
                endpoint.next_sequence += 1
                touched[endpoint.pk] = endpoint
                body = {"type": event.type, "timestamp": timestamp, "sequence": sequence}
                deliveries.append(
                    WebhookDelivery(
                        endpoint=endpoint,
                        event=row,
                        sequence=sequence,
                        webhook_id=f"msg_{uuid.uuid4().hex}",
                        body=_render({**body, "data": data}),
                        next_attempt_at=now,
                    )
                )
        WebhookEvent.objects.bulk_create(rows)
        WebhookDelivery.objects.bulk_create(deliveries)
        WebhookEndpoint.objects.bulk_update(list(touched.values()), ["next_sequence"])
        if deliveries:
            ids = [delivery.pk for delivery in deliveries]
            transaction.on_commit(lambda: _enqueue(ids))
    return rows


def webhook_alerts_raised(alerts: Iterable[DelayAlert]) -> list[WebhookEvent]:
    """Record the event of each newly raised alert (see alert_event_type), in bulk."""
    ids = [alert.pk for alert in alerts]
    if not ids:
        return []
    return webhook_events_record_many(_alert_events(ids, lambda alert: alert_event_type(alert)))


def webhook_alerts_resolved(alert_ids: Iterable[Any]) -> list[WebhookEvent]:
    """Record `alert.resolved` for each alert (call after marking them resolved)."""
    ids = list(alert_ids)
    if not ids:
        return []
    return webhook_events_record_many(
        _alert_events(ids, lambda alert: WebhookEventType.ALERT_RESOLVED)
    )


def _alert_events(ids: list[Any], event_type) -> list[EventInput]:
    """The events of these alerts, in the order given (a warning before the critical after it)."""
    position = {pk: index for index, pk in enumerate(ids)}
    links: dict[Any, list[Any]] = defaultdict(list)
    for alert_id, shipment_id in DelayAlert.shipments.through.objects.filter(
        delayalert_id__in=ids
    ).values_list("delayalert_id", "shipment_id"):
        links[alert_id].append(shipment_id)
    alerts = DelayAlert.objects.filter(pk__in=ids).select_related("application", "shipment")
    return [
        EventInput(
            alert.organization_id,
            event_type(alert),
            alert_event_data(alert, shipment_ids=sorted(links[alert.pk], key=str)),
        )
        for alert in sorted(alerts, key=lambda alert: position[alert.pk])
    ]


def webhook_application_status_changed(changes: Iterable[StatusChange]) -> list[WebhookEvent]:
    """Record `license_application.status_changed` for each status change."""
    events = []
    for change in changes:
        application = LicenseApplication.objects.get(pk=change.application_id)
        change.application = application
        events.append(
            EventInput(
                application.organization_id,
                WebhookEventType.APPLICATION_STATUS_CHANGED,
                application_status_changed_data(change),
            )
        )
    return webhook_events_record_many(events)


def _enqueue(delivery_ids: Sequence[Any], *, countdown: float | None = None) -> list[Any]:
    """Queue a delivery task per id; stop at the first broker error (the sweeper covers the rest)."""
    from licensing.tasks import deliver_webhook

    queued = []
    for delivery_id in delivery_ids:
        try:
            deliver_webhook.apply_async((str(delivery_id),), countdown=countdown, retry=False)
        except Exception as error:  # the broker is down: the rows wait for the sweeper
            logger.warning(
                "could not queue %s webhook deliveries (%s); the sweeper will",
                len(delivery_ids) - len(queued),
                error,
            )
            break
        queued.append(delivery_id)
    return queued


# -- delivering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    duration_ms: int = 0
    retryable: bool = False
    retry_after: float | None = None
    location: str = ""


def _retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _send(delivery: WebhookDelivery, endpoint: WebhookEndpoint, started: dt.datetime) -> _Outcome:
    """The HTTP attempt: check the target again, sign, POST. Never inside a transaction."""
    body = delivery.body.encode("utf-8")
    headers = signed_headers(
        secrets=endpoint.signing_secrets(started),
        webhook_id=delivery.webhook_id,
        timestamp=int(started.timestamp()),
        body=body,
    )
    try:
        target = check_url(endpoint.url)
    except TargetError as error:
        return _Outcome(error=f"Refused: {error.detail}", retryable=error.retryable)
    try:
        response = post(target, body=body, headers=headers)
    except DeliveryError as error:
        return _Outcome(error=error.detail, duration_ms=error.duration_ms, retryable=True)
    code = response.status_code
    return _Outcome(
        status_code=code,
        excerpt=response.excerpt,
        duration_ms=response.duration_ms,
        retryable=code == 429 or code >= 500,
        retry_after=_retry_after_seconds(response.headers.get("retry-after"), timezone.now()),
        location=response.headers.get("location", "")[:300],
    )


def webhook_delivery_attempt(delivery_id: Any) -> WebhookDelivery | None:
    """Attempt one due delivery: claim it, POST it outside any transaction, record the outcome.

    Safe to run twice and concurrently: a delivery that is not pending, not yet due, or
    claimed by another worker is left alone (a claimed one is looked at again when its
    lease ends, in case that worker died). Returns the delivery, or None when it is gone.
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None  # deleted, or another worker is claiming it right now
        if delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at > now:
            return delivery
        if delivery.claimed_until and delivery.claimed_until > now:
            wait = (delivery.claimed_until - now).total_seconds() + 1
            transaction.on_commit(lambda: _enqueue([delivery.pk], countdown=wait))
            return delivery
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        if not endpoint.is_active:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.last_error = f"Not sent: the endpoint is disabled. {endpoint.disabled_reason}"[
                :500
            ]
            delivery.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
            return delivery
        interrupted = WebhookAttempt.objects.filter(
            delivery=delivery, duration_ms__isnull=True
        ).update(error=INTERRUPTED_ATTEMPT)
        delivery.attempts += interrupted
        delivery.claimed_until = now + dt.timedelta(seconds=attempt_budget_seconds() + 5)
        delivery.save(update_fields=["attempts", "claimed_until", "updated_at"])
        started = timezone.now()
        attempt = WebhookAttempt.objects.create(delivery=delivery, started_at=started)

    outcome = _send(delivery, endpoint, started)
    return _record_outcome(delivery.pk, attempt.pk, outcome)


def _retry_delay(round_attempts: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt, or None when the schedule is exhausted."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if round_attempts >= len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    delay = schedule[round_attempts] * (1 + random.uniform(-jitter, jitter))
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS))
    return max(0.0, delay)


def _disable(endpoint: WebhookEndpoint, reason: str, now: dt.datetime) -> None:
    audit_record(
        actor=DELIVERY_ACTOR,
        instance=endpoint,
        action=Action.UPDATE,
        changes={"is_active": [endpoint.is_active, False], "disabled_reason": ["", reason[:500]]},
    )
    endpoint.is_active = False
    endpoint.disabled_reason = reason[:500]
    endpoint.disabled_at = now
    endpoint.version = F("version") + 1
    logger.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)


# The audit trail's name for the delivery worker, which disables failing endpoints.
DELIVERY_ACTOR = Actor.system("webhook-delivery")


def _record_outcome(delivery_id: Any, attempt_id: Any, outcome: _Outcome) -> WebhookDelivery | None:
    now = timezone.now()
    countdown: float | None = None
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            return None  # its endpoint was deleted during the attempt
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        error = outcome.error
        if outcome.status_code is not None and not 200 <= outcome.status_code < 300:
            error = f"HTTP {outcome.status_code}"
            if 300 <= outcome.status_code < 400:
                error += f": redirects are not followed (Location: {outcome.location or '-'})"
        attempt = WebhookAttempt.objects.get(pk=attempt_id)
        started = attempt.started_at
        attempt.duration_ms = outcome.duration_ms
        attempt.status_code = outcome.status_code
        attempt.response_excerpt = outcome.excerpt[:2048]
        attempt.error = error[:500]
        attempt.save(update_fields=["duration_ms", "status_code", "response_excerpt", "error"])
        delivery.attempts += 1
        delivery.round_attempts += 1
        delivery.claimed_until = None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = error[:500]
        succeeded = outcome.status_code is not None and 200 <= outcome.status_code < 300
        if succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
        else:
            endpoint.consecutive_failures += 1
            endpoint.failing_since = endpoint.failing_since or started
            delay = _retry_delay(delivery.round_attempts, outcome.retry_after)
            if outcome.status_code == 410:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                _disable(
                    endpoint, f"The receiver answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC.", now
                )
            elif not outcome.retryable:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
            elif delay is None:
                delivery.status = DeliveryStatus.DEAD
                delivery.next_attempt_at = None
                _disable(
                    endpoint,
                    f"Delivery {delivery.webhook_id} failed {delivery.round_attempts} times, "
                    f"the whole retry schedule; last error: {error}",
                    now,
                )
            else:
                delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
                if delay <= settings.WEBHOOK_MAX_COUNTDOWN_SECONDS:
                    countdown = delay
            days = settings.WEBHOOK_DISABLE_AFTER_DAYS
            if endpoint.is_active and endpoint.failing_since <= now - dt.timedelta(days=days):
                _disable(
                    endpoint,
                    f"Every delivery failed for {days} days (since "
                    f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC); last error: {error}",
                    now,
                )
        delivery.save()
        endpoint.save(
            update_fields=[
                "consecutive_failures",
                "failing_since",
                "is_active",
                "disabled_reason",
                "disabled_at",
                "version",
                "updated_at",
            ]
        )
        if countdown is not None:
            transaction.on_commit(lambda: _enqueue([delivery.pk], countdown=countdown))
    return delivery


def webhook_deliveries_sweep(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Queue pending deliveries that are overdue and that no worker holds. Returns how many.

    Covers a task that was never queued or got lost (on-commit hook not run, broker down or
    restarted, worker killed) and the retries scheduled too far ahead for a countdown.
    A delivery queued twice is sent once: the attempt claims it first.
    """
    now = now or timezone.now()
    overdue = now - dt.timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    ids = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=overdue)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(
            Q(enqueued_at__isnull=True)
            | Q(enqueued_at__lt=F("next_attempt_at"))
            | Q(enqueued_at__lt=now - dt.timedelta(seconds=SWEEP_REQUEUE_SECONDS))
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    queued = _enqueue(ids)
    if queued:
        WebhookDelivery.objects.filter(pk__in=queued).update(enqueued_at=now)
        logger.info("webhook sweep queued %s overdue deliveries", len(queued))
    return len(queued)


# -- endpoints -------------------------------------------------------------------------------


def _checked_url(url: str) -> None:
    """SSRF check at registration (outside the transaction: it resolves DNS)."""
    try:
        check_url(url)
    except TargetError as error:
        raise FieldErrors({"/url": [error.detail]}) from None


def event_types_checked(event_types: Any) -> list[str]:
    """The known event types of `event_types`, once each; FieldErrors for anything else."""
    if not isinstance(event_types, list | tuple) or not all(
        isinstance(t, str) for t in event_types
    ):
        raise FieldErrors({"/event_types": ["A list of event types."]})
    unknown = [t for t in event_types if t not in WebhookEventType.values]
    if unknown:
        raise FieldErrors(
            {
                "/event_types": [
                    f"Unknown event types: {', '.join(unknown)}. "
                    f"Known: {', '.join(WebhookEventType.values)}."
                ]
            }
        )
    return list(dict.fromkeys(event_types))


def webhook_endpoint_create(
    *,
    organization: Organization,
    actor: Actor,
    url: str,
    description: str = "",
    event_types: Sequence[str] = (),
    is_active: bool = True,
    secret: str | None = None,
) -> WebhookEndpoint:
    """Register an endpoint with a new secret; `endpoint.secret` is shown to the caller once.

    `secret` sets a known one instead (the demo data's, which `webhook_listen` is given).
    """
    _checked_url(url)
    if secret is not None:
        try:
            secret_key(secret)
        except InvalidSecret as error:
            raise FieldErrors({"/secret": [str(error)]}) from None
    endpoint = WebhookEndpoint(
        organization=organization,
        url=url,
        description=description,
        event_types=event_types_checked(event_types),
        is_active=is_active,
        secret=secret or secret_generate(),
    )
    if not is_active:
        endpoint.disabled_reason = f"Disabled by {actor.label}."
        endpoint.disabled_at = timezone.now()
    validate_instance(endpoint, exclude=("organization",))
    with transaction.atomic():
        endpoint.save()
        audit_record(
            actor=actor, instance=endpoint, action=Action.CREATE, changes=created_changes(endpoint)
        )
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    expected_version: int | None = None,
    **changes: Any,
) -> WebhookEndpoint:
    """Change an endpoint. Enabling it clears its disabled reason and failure count.

    Changing nothing writes nothing: the version (the ETag) stays, and no audit row is added.
    """
    unknown = set(changes) - set(ENDPOINT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Webhook endpoint fields cannot be changed: {sorted(unknown)}")
    if "url" in changes and changes["url"] != endpoint.url:
        _checked_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = event_types_checked(changes["event_types"])
    with transaction.atomic():
        lock_version(endpoint, expected_version=expected_version)
        # The counters (sequence, failures) move under the workers: start from the locked row.
        endpoint.refresh_from_db()
        before = field_values(endpoint)
        was_active = endpoint.is_active
        for field, value in changes.items():
            setattr(endpoint, field, value)
        if endpoint.is_active and not was_active:
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
        elif was_active and not endpoint.is_active:
            endpoint.disabled_reason = f"Disabled by {actor.label}."
            endpoint.disabled_at = timezone.now()
        audited = field_changes(before, field_values(endpoint))
        if not audited:
            return endpoint
        endpoint.version += 1
        validate_instance(endpoint, exclude=("organization",))
        endpoint.save(
            update_fields=[
                *ENDPOINT_EDITABLE_FIELDS,
                "disabled_reason",
                "disabled_at",
                "consecutive_failures",
                "failing_since",
                "version",
                "updated_at",
            ]
        )
        audit_record(actor=actor, instance=endpoint, action=Action.UPDATE, changes=audited)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(
    *, endpoint: WebhookEndpoint, actor: Actor, expected_version: int | None = None
) -> None:
    """Delete an endpoint with its delivery log; queued tasks then find nothing to send."""
    claim_version(endpoint, expected_version=expected_version)
    audit_record(
        actor=actor, instance=endpoint, action=Action.DELETE, changes=deleted_changes(endpoint)
    )
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor, expected_version: int | None = None
) -> WebhookEndpoint:
    """Give the endpoint a new secret; the old one keeps signing for the grace period.

    Requests in the grace period carry both signatures, so a consumer can switch its
    secret at any moment within it. A second rotation within the grace drops the oldest.
    """
    claim_version(endpoint, expected_version=expected_version)
    locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = locked.secret
    endpoint.previous_secret_expires_at = timezone.now() + dt.timedelta(
        seconds=settings.WEBHOOK_SECRET_GRACE_SECONDS
    )
    endpoint.secret = secret_generate()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    audit_record(
        actor=actor,
        instance=endpoint,
        action=Action.UPDATE,
        changes={
            "secret": [locked.secret, endpoint.secret],
            "previous_secret_expires_at": [None, endpoint.previous_secret_expires_at],
        },
    )
    return endpoint


@transaction.atomic
def webhook_endpoint_test(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    """Send a `webhook.test` event to this endpoint only."""
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists():
        raise StateConflict(
            "This endpoint is disabled: enable it (is_active true) before sending a test event."
        )
    event = webhook_events_record(
        organization=endpoint.organization,
        event_type=WebhookEventType.WEBHOOK_TEST,
        data=test_event_data(endpoint),
        endpoints=[endpoint],
    )
    return WebhookDelivery.objects.get(event=event, endpoint=endpoint)


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a delivery again, now, with the same body and webhook-id and a fresh schedule."""
    locked = (
        WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    )
    if not locked.endpoint.is_active:
        raise StateConflict(
            "This endpoint is disabled: enable it (is_active true) before redelivering."
        )
    if locked.claimed_until and locked.claimed_until > timezone.now():
        raise StateConflict("This delivery is being sent right now; look again in a moment.")
    previous_status = locked.status
    locked.status = DeliveryStatus.PENDING
    locked.round_attempts = 0
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "round_attempts", "next_attempt_at", "updated_at"])
    audit_record(
        actor=actor,
        instance=locked,
        action=Action.UPDATE,
        changes={"status": [previous_status, locked.status]},
        parent=locked.endpoint,
    )
    transaction.on_commit(lambda: _enqueue([locked.pk]))
    return locked
