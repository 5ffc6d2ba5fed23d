"""The licensing domain model; see each module's docstrings."""

from licensing.models.api_keys import OrganizationAPIKey
from licensing.models.applications import (
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    ClockStopKind,
    LicenseApplication,
    LicenseType,
    StatusChange,
)
from licensing.models.catalogue import (
    ClockStartEvent,
    ControlAnnouncement,
    ControlledItem,
    ControlPeriod,
    LicensingAuthority,
    MaterialFamily,
    PeriodUnit,
)
from licensing.models.delays import AlertKind, DelayAlert, ThresholdLevel, ThresholdRule
from licensing.models.exporters import Exporter
from licensing.models.forecasts import ForecastCurve, ForecastLevel
from licensing.models.levels import DELAY_LEVEL_RANK, DelayLevel
from licensing.models.organizations import Organization
from licensing.models.quantities import QuantityUnit
from licensing.models.shipments import (
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    ShipmentStatusChange,
)
from licensing.models.webhooks import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)

__all__ = [
    "DELAY_LEVEL_RANK",
    "AlertKind",
    "ApplicationLine",
    "ApplicationStatus",
    "ClockStartEvent",
    "ClockStop",
    "ClockStopKind",
    "ControlAnnouncement",
    "ControlPeriod",
    "ControlledItem",
    "DelayAlert",
    "DelayLevel",
    "DeliveryStatus",
    "Exporter",
    "ForecastCurve",
    "ForecastLevel",
    "LicenseApplication",
    "LicenseType",
    "LicensingAuthority",
    "MaterialFamily",
    "Organization",
    "OrganizationAPIKey",
    "PeriodUnit",
    "QuantityUnit",
    "Shipment",
    "ShipmentLine",
    "ShipmentStatus",
    "ShipmentStatusChange",
    "StatusChange",
    "ThresholdLevel",
    "ThresholdRule",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookEventType",
]
