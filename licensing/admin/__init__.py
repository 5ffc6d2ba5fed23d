"""The compliance officers' admin.

Status fields are read-only here: statuses change only through the workflow services
(licensing.services), so the admin never becomes a second code path.
"""

from django.contrib import admin

from licensing.admin.api_keys import OrganizationAPIKeyAdmin
from licensing.admin.applications import LicenseApplicationAdmin
from licensing.admin.catalogue import (
    ControlAnnouncementAdmin,
    ControlledItemAdmin,
    LicensingAuthorityAdmin,
)
from licensing.admin.delays import CalendarExceptionAdmin, DelayAlertAdmin, ThresholdRuleAdmin
from licensing.admin.parties import ExporterAdmin, OrganizationAdmin
from licensing.admin.shipments import ShipmentAdmin
from licensing.admin.webhooks import WebhookDeliveryAdmin, WebhookEndpointAdmin

admin.site.site_header = "Export licence tracker"
admin.site.site_title = "Export licence tracker"
admin.site.index_title = "Applications, shipments and the authority's clock"

__all__ = [
    "CalendarExceptionAdmin",
    "ControlAnnouncementAdmin",
    "ControlledItemAdmin",
    "DelayAlertAdmin",
    "ExporterAdmin",
    "LicenseApplicationAdmin",
    "LicensingAuthorityAdmin",
    "OrganizationAPIKeyAdmin",
    "OrganizationAdmin",
    "ShipmentAdmin",
    "ThresholdRuleAdmin",
    "WebhookDeliveryAdmin",
    "WebhookEndpointAdmin",
]
