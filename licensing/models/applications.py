"""License applications, their lines, status history and clock stops."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from core.models import TimeStampedModel
from licensing.models.catalogue import ControlledItem, LicensingAuthority
from licensing.models.exporters import Exporter
from licensing.models.levels import DelayLevel
from licensing.models.organizations import Organization
from licensing.models.quantities import QuantityUnit


class LicenseType(models.TextChoices):
    """Art. 15 of State Council Order No. 792."""

    SINGLE = "single", "single license"
    GENERAL = "general", "general license"
    REGISTRATION = "registration", "registration voucher"


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    SUBMITTED = "submitted", "submitted"
    ACCEPTED = "accepted", "accepted"
    UNDER_REVIEW = "under_review", "under review"
    INFO_REQUESTED = "info_requested", "information requested"
    APPROVED = "approved", "approved"
    DENIED = "denied", "denied"
    WITHDRAWN = "withdrawn", "withdrawn"
    EXPIRED = "expired", "expired"
    REVOKED = "revoked", "revoked"
    EXHAUSTED = "exhausted", "exhausted"


# The workflow: from each status, the statuses it may move to.
S = ApplicationStatus
APPLICATION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.DRAFT: (S.SUBMITTED, S.WITHDRAWN),
    S.SUBMITTED: (S.ACCEPTED, S.WITHDRAWN),
    S.ACCEPTED: (S.UNDER_REVIEW, S.WITHDRAWN),
    S.UNDER_REVIEW: (S.INFO_REQUESTED, S.APPROVED, S.DENIED, S.WITHDRAWN),
    S.INFO_REQUESTED: (S.UNDER_REVIEW, S.WITHDRAWN),
    S.APPROVED: (S.EXPIRED, S.REVOKED, S.EXHAUSTED),
    S.DENIED: (),
    S.WITHDRAWN: (),
    S.EXPIRED: (),
    S.REVOKED: (),
    S.EXHAUSTED: (),
}
# Statuses in which the authority has not decided yet: the clock may run, withdrawal is allowed.
PENDING_STATUSES = (S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.UNDER_REVIEW, S.INFO_REQUESTED)
# Statuses in which the authority has decided (or the applicant gave up): the clock has stopped.
DECIDED_STATUSES = (S.APPROVED, S.DENIED, S.WITHDRAWN, S.EXPIRED, S.REVOKED, S.EXHAUSTED)
del S


class LicenseApplication(TimeStampedModel):
    """An application for an export license, from draft to the authority's decision and beyond.

    The status only changes through `licensing.services.applications.application_transition`,
    which enforces APPLICATION_TRANSITIONS and writes a StatusChange in the same transaction.
    `clock_started_at` is set by the transition that starts the authority's clock.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="applications"
    )
    exporter = models.ForeignKey(Exporter, on_delete=models.PROTECT, related_name="applications")
    authority = models.ForeignKey(
        LicensingAuthority, on_delete=models.PROTECT, related_name="applications"
    )
    license_type = models.CharField(max_length=16, choices=LicenseType.choices)
    status = models.CharField(
        max_length=16,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.DRAFT,
        db_index=True,
    )

    end_user_name = models.CharField(max_length=300)
    end_user_country = CountryField()
    end_user_address = models.TextField(blank=True)
    end_use = models.TextField()
    destination_country = CountryField()

    authority_reference = models.CharField(
        max_length=100, blank=True, help_text="The authority's application number."
    )
    license_number = models.CharField(max_length=100, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    is_escalated = models.BooleanField(
        default=False, help_text="Escalated to the State Council / CMC: no statutory deadline."
    )
    involves_watch_listed_party = models.BooleanField(
        default=False,
        help_text="Importer or end user on the control watch list: no statutory deadline.",
    )

    submitted_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    clock_started_at = models.DateTimeField(null=True, blank=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    # Delay state, stored by licensing.services.delays whenever the clock or a rule changes.
    statutory_deadline = models.DateField(null=True, blank=True, db_index=True)
    delay_level = models.CharField(
        max_length=10, choices=DelayLevel.choices, default=DelayLevel.NONE, db_index=True
    )
    delay_rule = models.ForeignKey(
        "licensing.ThresholdRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    next_threshold_level = models.CharField(max_length=10, choices=DelayLevel.choices, blank=True)
    next_threshold_on = models.DateField(null=True, blank=True)
    next_check_at = models.DateTimeField(
        null=True, blank=True, help_text="When the delay scan must look at this application next."
    )

    # Decision times, stored with the decision: the history lead-time statistics and the
    # expected-decision forecast read (licensing.forecast).
    decision_working_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Counting days on the authority's clock from its start to the decision, pauses excluded.",
    )
    decision_calendar_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Calendar days from the clock start to the decision."
    )
    # Expected decision window of an open application, stored by the forecast refresh.
    expected_decision_p50 = models.DateField(null=True, blank=True)
    expected_decision_p90 = models.DateField(null=True, blank=True)
    expected_decision_basis = models.CharField(max_length=64, blank=True)
    expected_decision_sample_size = models.PositiveIntegerField(default=0)
    expected_decision_computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "id")
        indexes = [
            # The scan reads only what is due: WHERE next_check_at <= now.
            models.Index(
                fields=("next_check_at",),
                name="application_due",
                condition=Q(next_check_at__isnull=False),
            ),
            # Keyset pagination: (sort value, id) within the organization, optionally by status.
            models.Index(
                fields=("organization", "created_at", "id"), name="application_org_created"
            ),
            models.Index(
                fields=("organization", "updated_at", "id"), name="application_org_updated"
            ),
            models.Index(
                fields=("organization", "status", "created_at", "id"),
                name="application_org_status_created",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_until__gte=models.F("valid_from")),
                name="application_validity_ordered",
            )
        ]

    def __str__(self) -> str:
        reference = self.license_number or self.authority_reference or str(self.id)[:8]
        return f"{self.authority.code} {reference}"

    @property
    def has_statutory_deadline(self) -> bool:
        """Escalated cases and watch-listed parties have no deadline (Art. 17, Art. 26)."""
        return not (self.is_escalated or self.involves_watch_listed_party)

    def allowed_transitions(self) -> tuple[str, ...]:
        return APPLICATION_TRANSITIONS[self.status]


class ApplicationLine(models.Model):
    """One controlled item on an application, with the quantity asked for (and later licensed)."""

    application = models.ForeignKey(
        LicenseApplication, on_delete=models.CASCADE, related_name="lines"
    )
    position = models.PositiveSmallIntegerField(default=0)
    item = models.ForeignKey(
        ControlledItem, on_delete=models.PROTECT, related_name="application_lines"
    )
    quantity = models.DecimalField(max_digits=18, decimal_places=3)
    unit = models.CharField(max_length=4, choices=QuantityUnit.choices)
    value = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="ISO 4217, e.g. USD")

    class Meta:
        ordering = ("application", "position", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="application_line_quantity_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item.control_code} {self.quantity} {self.unit}"


class StatusChange(models.Model):
    """One move of an application's status, as it happened and as it was recorded.

    `occurred_at` is the date on the authority's notice (it may lie in the past, never in the
    future); `recorded_at` is when we learned of it. Written in the transition's transaction.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(
        LicenseApplication, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(max_length=16, choices=ApplicationStatus.choices)
    to_status = models.CharField(max_length=16, choices=ApplicationStatus.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(
        max_length=200, blank=True, help_text="Who acted: a user or an API key."
    )
    note = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ("application", "occurred_at", "recorded_at")
        indexes = [
            models.Index(fields=("application", "occurred_at"), name="status_change_timeline")
        ]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status} at {self.occurred_at:%Y-%m-%d}"


class ClockStopKind(models.TextChoices):
    """Periods that do not count towards the deadline (Art. 17)."""

    EXPERT_REVIEW = "expert_review", "expert review"
    ONSITE_VERIFICATION = "onsite_verification", "on-site verification"
    TECHNICAL_IDENTIFICATION = "technical_identification", "technical identification"


class ClockStop(TimeStampedModel):
    """A recorded period, inclusive of both dates, that does not count towards the deadline.

    An open stop (no `ended_on`) pauses the clock until it is closed.
    """

    application = models.ForeignKey(
        LicenseApplication, on_delete=models.CASCADE, related_name="clock_stops"
    )
    kind = models.CharField(max_length=32, choices=ClockStopKind.choices)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ("application", "started_on")
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="clock_stop_ends_after_start",
                violation_error_message="ended_on cannot precede started_on.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_on} - {self.ended_on or 'open'}"
