"""The compliance officers' admin: a workbench, not a database browser.

- applications.py, shipments.py, delays.py: the work queues (most urgent first), their
  workflow actions and the application page with its history, alerts and shipments;
  threshold rules with a preview before saving.
- actions.py, forms.py: per-row outcomes and the intermediate forms of the actions.
- filters.py, display.py: the queues' filters and badges (licensing/static/licensing/admin.css).
- scoping.py: staff who are not superusers see only their organizations' rows.
- imports.py, dashboard.py: import/export and the "Delays" dashboard.

Status fields are read-only here: statuses change only through the workflow services
(licensing.services), so the admin never becomes a second code path. Every ModelAdmin
derives from core.admin.AuditedModelAdmin (the per-object history).
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

admin.site.site_header = "Export license tracker"
admin.site.site_title = "Export license tracker"
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
