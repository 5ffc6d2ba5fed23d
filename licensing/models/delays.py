"""Delay thresholds and the alerts they raise.

A ThresholdRule says when an application's wait becomes a problem: ordered levels
(warning at 30, critical at 40, overdue at the statutory deadline by default), an optional
repeat after the last level, the lead buffer for the at-risk check and the expiry warning
window. Rules are scoped; a blank scope field matches everything and the most specific
matching rule wins (see licensing.services.thresholds for the order).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from core.models import TimeStampedModel
from licensing.models.applications import LicenseApplication
from licensing.models.catalogue import (
    ControlledItem,
    LicensingAuthority,
    MaterialFamily,
    PeriodUnit,
)
from licensing.models.exporters import Exporter
from licensing.models.levels import DelayLevel
from licensing.models.organizations import Organization
from licensing.models.shipments import Shipment


class ThresholdRule(TimeStampedModel):
    """When waits become warnings, critical and overdue, for the applications in its scope."""

    name = models.CharField(max_length=200)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="threshold_rules",
        null=True,
        blank=True,
        help_text="Blank: a default rule for every organization (admin only).",
    )
    authority = models.ForeignKey(
        LicensingAuthority, on_delete=models.CASCADE, null=True, blank=True
    )
    item = models.ForeignKey(ControlledItem, on_delete=models.CASCADE, null=True, blank=True)
    material_family = models.CharField(max_length=32, choices=MaterialFamily.choices, blank=True)
    destination_country = CountryField(blank=True)
    exporter = models.ForeignKey(Exporter, on_delete=models.CASCADE, null=True, blank=True)
    repeat_every = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Raise the last level again every N days after it; blank: never.",
    )
    repeat_unit = models.CharField(
        max_length=16, choices=PeriodUnit.choices, default=PeriodUnit.WORKING_DAYS
    )
    lead_buffer_days = models.PositiveSmallIntegerField(
        default=5,
        help_text="A shipment is at risk when the decision is expected after its ship date minus this.",
    )
    expiry_warning_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Flag licenses that expire within this many days while shipments wait.",
    )
    is_active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ThresholdLevel(models.Model):
    """One level of a rule: reached when the wait reaches `after` days, or at the deadline."""

    rule = models.ForeignKey(ThresholdRule, on_delete=models.CASCADE, related_name="levels")
    level = models.CharField(
        max_length=10, choices=[c for c in DelayLevel.choices if c[0] != "none"]
    )
    after = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Days waited; blank with 'at deadline' checked."
    )
    unit = models.CharField(
        max_length=16, choices=PeriodUnit.choices, default=PeriodUnit.WORKING_DAYS
    )
    at_statutory_deadline = models.BooleanField(
        default=False,
        help_text="Reached on the statutory deadline day (the decision is due that day).",
    )

    class Meta:
        # Day counts in order, the deadline level last, the same on every database.
        ordering = ("rule", models.F("after").asc(nulls_last=True), "level")
        constraints = [
            models.UniqueConstraint(fields=("rule", "level"), name="threshold_level_once_per_rule"),
            models.CheckConstraint(
                condition=Q(at_statutory_deadline=True) | Q(after__isnull=False),
                name="threshold_level_has_a_point",
            ),
        ]

    def __str__(self) -> str:
        point = (
            "at the statutory deadline"
            if self.at_statutory_deadline
            else f"at {self.after} {self.unit}"
        )
        return f"{self.level} {point}"


class AlertKind(models.TextChoices):
    DELAY_LEVEL = "delay_level", "delay level"
    AT_RISK = "at_risk", "shipment at risk"
    LICENSE_EXPIRING = "license_expiring", "license expiring"


class DelayAlert(TimeStampedModel):
    """An alert raised by the scan: a wait crossed a level, a shipment is at risk, a license expires.

    Delay-level alerts belong to an application; at-risk and license-expiring alerts to a
    shipment (with its application, if any, for reference). The database refuses a second
    alert for the same (application, kind, level, repeat index) — (shipment, ...) for the
    shipment kinds — so re-running the scan, or two scans at once, never duplicates one.
    `shipments` lists the shipments affected when the alert was raised.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    level = models.CharField(max_length=10, choices=DelayLevel.choices)
    repeat_index = models.PositiveSmallIntegerField(default=0)
    application = models.ForeignKey(
        LicenseApplication, on_delete=models.CASCADE, related_name="alerts", null=True, blank=True
    )
    shipment = models.ForeignKey(
        Shipment,
        on_delete=models.CASCADE,
        related_name="own_alerts",
        null=True,
        blank=True,
        help_text="The shipment an at-risk or license-expiring alert is about.",
    )
    shipments = models.ManyToManyField(Shipment, related_name="alerts", blank=True)
    wait_elapsed = models.IntegerField(null=True, blank=True)
    wait_unit = models.CharField(max_length=16, choices=PeriodUnit.choices, blank=True)
    rule = models.ForeignKey(ThresholdRule, on_delete=models.SET_NULL, null=True, blank=True)
    escalates = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="escalations",
        help_text="The lower-level alert this one escalates.",
    )
    message = models.CharField(max_length=500)
    raised_at = models.DateTimeField(db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_by_label = models.CharField(max_length=200, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolution = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ("-raised_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("application", "kind", "level", "repeat_index"),
                condition=Q(kind="delay_level"),
                name="alert_once_per_application_level",
            ),
            models.UniqueConstraint(
                fields=("shipment", "kind", "level", "repeat_index"),
                condition=~Q(kind="delay_level"),
                name="alert_once_per_shipment_level",
            ),
            models.CheckConstraint(
                condition=(Q(kind="delay_level") & Q(application__isnull=False))
                | (~Q(kind="delay_level") & Q(shipment__isnull=False)),
                name="alert_has_its_subject",
            ),
        ]
        indexes = [
            models.Index(fields=("organization", "raised_at", "id"), name="alert_org_raised"),
            models.Index(fields=("organization", "created_at", "id"), name="alert_org_created"),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def state(self) -> str:
        if self.resolved_at:
            return "resolved"
        if self.acknowledged_at:
            return "acknowledged"
        return "open"
