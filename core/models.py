"""Base models and the calendar exceptions table."""

import uuid

from django.db import models


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
