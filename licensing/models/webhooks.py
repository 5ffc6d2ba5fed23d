"""Webhook endpoints, the events sent to them, and the log of every delivery and attempt.

An event is written once; each endpoint that wants it gets a WebhookDelivery in the same
transaction (a transactional outbox), carrying the exact body bytes that are signed and
sent, its per-endpoint sequence number and its `webhook-id`, stable across retries. Due
deliveries stay in the database with their next attempt time, so a lost queue message
delays a delivery but never loses it (licensing.services.webhooks sweeps them).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from licensing.models.organizations import Organization


class WebhookEventType(models.TextChoices):
    ALERT_RAISED = "alert.raised", "a delay alert was raised"
    ALERT_ESCALATED = "alert.escalated", "a higher delay level was reached"
    ALERT_RESOLVED = "alert.resolved", "an alert's cause ended"
    APPLICATION_STATUS_CHANGED = (
        "license_application.status_changed",
        "a license application changed status",
    )
    SHIPMENT_AT_RISK = "shipment.at_risk", "a shipment is at risk"
    LICENSE_EXPIRING = "license.expiring", "a license expires before its shipment leaves"
    WEBHOOK_TEST = "webhook.test", "a test event sent on request"


class WebhookEndpoint(TimeStampedModel):
    """A URL of an organization's system that receives its events, signed with its secret.

    `secret` signs every request; after a rotation `previous_secret` signs too until
    `previous_secret_expires_at`. An endpoint that keeps failing, or answers 410, is disabled
    with a `disabled_reason`; re-enabling it clears the reason.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000, help_text="https, or http to an allowed loopback.")
    description = models.CharField(max_length=500, blank=True)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types sent here; empty: all of them."
    )
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_sequence = models.PositiveBigIntegerField(
        default=1, editable=False, help_text="The sequence number of the next delivery."
    )
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="First failure since the last success."
    )
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ("-created_at", "id")
        indexes = [
            models.Index(
                fields=("organization", "created_at", "id"), name="webhook_ep_org_created"
            ),
            models.Index(
                fields=("organization", "updated_at", "id"), name="webhook_ep_org_updated"
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return event_type == WebhookEventType.WEBHOOK_TEST or (
            not self.event_types or event_type in self.event_types
        )

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets that sign a request now: the current one, then the previous in its grace."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and self.previous_secret_expires_at > now
        ):
            secrets.append(self.previous_secret)
        return secrets


class WebhookEvent(models.Model):
    """Something that happened, as its consumers learn of it: a type and its data."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_events"
    )
    type = models.CharField(max_length=64, choices=WebhookEventType.choices)
    payload = models.JSONField(help_text='{"type", "timestamp", "data"}, as sent.')
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "id")

    def __str__(self) -> str:
        return f"{self.type} {self.created_at:%Y-%m-%d %H:%M:%S}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed (not retried)"
    DEAD = "dead", "dead (retries exhausted)"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the bytes to send, where it stands, and when to try next.

    `body` is exactly what is signed and sent, on every attempt; `webhook_id` is the same on
    every attempt, so consumers deduplicate on it. `round_attempts` counts the attempts
    since the delivery was (re)queued and picks the next delay from the retry schedule.
    `claimed_until` is the lease of the worker sending it: no row lock is held over HTTP.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    sequence = models.PositiveBigIntegerField()
    webhook_id = models.CharField(max_length=64, unique=True)
    body = models.TextField(help_text="The exact JSON sent (UTF-8).")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    round_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper last queued it."
    )
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("endpoint", "sequence"), name="webhook_delivery_sequence_once"
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_is_due",
            ),
        ]
        indexes = [
            models.Index(
                fields=("endpoint", "created_at", "id"), name="webhook_dl_endpoint_created"
            ),
            models.Index(
                fields=("endpoint", "updated_at", "id"), name="webhook_dl_endpoint_updated"
            ),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, how long, what came back or what went wrong.

    Written before the request is sent and closed after, so that a worker killed during the
    attempt leaves it in the log: `duration_ms` stays null until it is closed, and the next
    attempt marks it interrupted.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Null while it runs, or when it was interrupted."
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=2048, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("started_at", "id")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
