"""Base models, the calendar exceptions table and the audit trail."""

import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    """A row with a public UUID id and creation and update times.

    The UUID is the primary key, so no sequential id ever leaves the process.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


class CalendarException(TimeStampedModel):
    """A correction to a country's working-day calendar: this date is, or is not, a working day.

    China publishes each year's holidays and make-up working days in late autumn of the
    year before; until a `holidays` release carries them, officers enter them here.
    An exception always wins over the `holidays` package.
    """

    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. CN.")
    date = models.DateField()
    is_working_day = models.BooleanField(
        help_text="Checked: a working day (e.g. a make-up Saturday). Unchecked: a day off."
    )
    source = models.CharField(
        max_length=300, help_text="Where this comes from, e.g. the State Council notice."
    )

    class Meta:
        ordering = ("country", "date")
        constraints = [
            models.UniqueConstraint(
                fields=("country", "date"), name="calendar_exception_unique_day"
            )
        ]

    def __str__(self) -> str:
        kind = "working day" if self.is_working_day else "day off"
        return f"{self.country} {self.date}: {kind}"


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, kept to replay it.

    Unique per (scope, key), where scope is the API key (or user) that sent it. While the
    first request runs the record is `in_progress` and holds a lease (`locked_until`), so a
    crashed request does not block its key forever.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    scope = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    locked_until = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("scope", "key"), name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"


class ObjectChange(models.Model):
    """One change to one object: who made it, when, under which request id, and what moved.

    Written by the services in the transaction of the change itself (core.audit), by the
    admin for saves that bypass the services, and by the delay scan in bulk. `changes` maps
    each field to `[before, after]`; secrets are recorded as "[redacted]". `object_id` is a
    string because primary keys are UUIDs, integers and API key ids. Rows of an
    application's lines, clock stops and alerts name it as their `parent`, so its history
    shows them too. `organization_id` (no foreign key either) scopes the trail to a tenant. Rows are never changed; only the retention purge deletes them
    (core.audit.audit_purge_expired), so the model has no add, change or delete permission.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        TRANSITION = "transition"

    time = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff user who acted, if one did; kept as `actor_label` after the user goes.",
    )
    actor_label = models.CharField(
        max_length=200, help_text='Who acted, e.g. "user:alice", "api-key:erp (Xk3v9Qa2)".'
    )
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=255)
    object_repr = models.CharField(max_length=200)
    parent_content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    parent_object_id = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    organization_id = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="The tenant the object belongs to; blank for shared reference data.",
    )

    class Meta:
        ordering = ("-time", "-id")
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=("content_type", "object_id", "time"), name="objectchange_object"),
            models.Index(
                fields=("parent_content_type", "parent_object_id", "time"),
                name="objectchange_parent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"
