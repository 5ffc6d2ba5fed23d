"""URLs of API v1, all under /api/v1/."""

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from licensing.api.v1.applications import LicenseApplicationViewSet
from licensing.api.v1.catalogue import ControlledItemViewSet, LicensingAuthorityViewSet
from licensing.api.v1.delays import AlertViewSet, ThresholdRuleViewSet
from licensing.api.v1.exporters import ExporterViewSet
from licensing.api.v1.shipments import ShipmentViewSet
from licensing.api.v1.stats import LeadTimeStatsView
from licensing.api.v1.webhooks import WebhookEndpointViewSet

app_name = "v1"

router = DefaultRouter(trailing_slash="/?")
router.register("exporters", ExporterViewSet, basename="exporter")
router.register("license-applications", LicenseApplicationViewSet, basename="license-application")
router.register("shipments", ShipmentViewSet, basename="shipment")
router.register("threshold-rules", ThresholdRuleViewSet, basename="threshold-rule")
router.register("alerts", AlertViewSet, basename="alert")
router.register("authorities", LicensingAuthorityViewSet, basename="authority")
router.register("controlled-items", ControlledItemViewSet, basename="controlled-item")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")

urlpatterns = [
    # The trailing slash is optional, as on the router's resources.
    re_path(r"^stats/lead-times/?$", LeadTimeStatsView.as_view(), name="stats-lead-times"),
    path("", include(router.urls)),
]
