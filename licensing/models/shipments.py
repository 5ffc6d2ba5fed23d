"""Shipments: what the procurement system waits for, and the license that covers it."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from core.models import TimeStampedModel
from licensing.models.applications import LicenseApplication
from licensing.models.catalogue import ControlledItem
from licensing.models.exporters import Exporter
from licensing.models.levels import DelayLevel
from licensing.models.organizations import Organization
from licensing.models.quantities import QuantityUnit


class ShipmentStatus(models.TextChoices):
    AWAITING_LICENSE = "awaiting_license", "awaiting license"
    LICENSED = "licensed", "licensed"
    SHIPPED = "shipped", "shipped"
    DELIVERED = "delivered", "delivered"
    CANCELLED = "cancelled", "cancelled"
    ON_HOLD = "on_hold", "on hold"


S = ShipmentStatus
SHIPMENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.AWAITING_LICENSE: (S.LICENSED, S.ON_HOLD, S.CANCELLED),
    S.LICENSED: (S.SHIPPED, S.AWAITING_LICENSE, S.ON_HOLD, S.CANCELLED),
    S.ON_HOLD: (S.AWAITING_LICENSE, S.LICENSED, S.CANCELLED),
    S.SHIPPED: (S.DELIVERED,),
    S.DELIVERED: (),
    S.CANCELLED: (),
}
# A cancelled shipment releases the licensed quantity it had drawn.
QUANTITY_RELEASING_STATUSES = (S.CANCELLED,)
del S


class Shipment(TimeStampedModel):
    """A shipment the organization expects, identified by its own PO or shipment number.

    It draws on the quantity of the license application that covers it; a single license
    covers one shipment, a general license many until its quantity is depleted.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="shipments"
    )
    external_reference = models.CharField(
        max_length=100, help_text="The procurement system's PO or shipment number."
    )
    exporter = models.ForeignKey(Exporter, on_delete=models.PROTECT, related_name="shipments")
    consignee_name = models.CharField(max_length=300)
    consignee_country = CountryField()
    consignee_address = models.TextField(blank=True)
    destination_country = CountryField()
    required_ship_date = models.DateField(db_index=True)
    status = models.CharField(
        max_length=20,
        choices=ShipmentStatus.choices,
        default=ShipmentStatus.AWAITING_LICENSE,
        db_index=True,
    )
    license_application = models.ForeignKey(
        LicenseApplication,
        on_delete=models.PROTECT,
        related_name="shipments",
        null=True,
        blank=True,
    )
    shipped_on = models.DateField(null=True, blank=True)
    delivered_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    # Delay state, stored by licensing.services.delays.
    at_risk = models.BooleanField(
        default=False,
        db_index=True,
        help_text="The license decision is expected too late for the ship date.",
    )
    license_expiring = models.CharField(
        max_length=10,
        choices=DelayLevel.choices,
        default=DelayLevel.NONE,
        help_text="warning: the license expires within the window; critical: before the ship date.",
    )
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "external_reference"),
                name="shipment_unique_external_reference",
                violation_error_message="A shipment with this external reference exists.",
            )
        ]
        indexes = [
            models.Index(
                fields=("next_check_at",),
                name="shipment_due",
                condition=Q(next_check_at__isnull=False),
            ),
            # Keyset pagination: (sort value, id) within the organization, optionally by status.
            models.Index(fields=("organization", "created_at", "id"), name="shipment_org_created"),
            models.Index(fields=("organization", "updated_at", "id"), name="shipment_org_updated"),
            models.Index(
                fields=("organization", "status", "created_at", "id"),
                name="shipment_org_status_created",
            ),
            models.Index(
                fields=("organization", "required_ship_date", "id"), name="shipment_org_ship_date"
            ),
        ]

    def __str__(self) -> str:
        return self.external_reference


class ShipmentLine(models.Model):
    """One controlled item in a shipment."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    item = models.ForeignKey(
        ControlledItem, on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.DecimalField(max_digits=18, decimal_places=3)
    unit = models.CharField(max_length=4, choices=QuantityUnit.choices)

    class Meta:
        ordering = ("shipment", "position", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="shipment_line_quantity_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item.control_code} {self.quantity} {self.unit}"


class ShipmentStatusChange(models.Model):
    """One move of a shipment's status; see StatusChange for the meaning of the times."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=ShipmentStatus.choices)
    to_status = models.CharField(max_length=20, choices=ShipmentStatus.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ("shipment", "occurred_at", "recorded_at")

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status} at {self.occurred_at:%Y-%m-%d}"
