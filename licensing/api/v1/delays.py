"""/api/v1/threshold-rules/ and /api/v1/alerts/: the delay engine's configuration and output."""

from __future__ import annotations

import django_filters
from django.db.models import Exists, OuterRef, Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.idempotency import idempotent
from core.api.strict_bodies import StrictBodyMixin
from licensing.api.v1.base import ETagRetrieveMixin, OrganizationScopedViewSet, ResourceViewSet
from licensing.api.v1.fields import (
    ASCII_DIGIT_FIELD_MAPPING,
    ControlCodeField,
    CountryCodeField,
    IntegerField,
    OrganizationExporterField,
)
from licensing.api.v1.filters import IsoDateTimeFilter, MultiValueChoiceFilter
from licensing.models import LicensingAuthority, MaterialFamily, PeriodUnit, ShipmentLine
from licensing.models.delays import AlertKind, DelayAlert, ThresholdLevel, ThresholdRule
from licensing.models.levels import DelayLevel
from licensing.services.delays import alert_acknowledge
from licensing.services.threshold_rules import (
    LevelInput,
    threshold_rule_create,
    threshold_rule_delete,
    threshold_rule_update,
)


class ThresholdLevelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = ASCII_DIGIT_FIELD_MAPPING
    level = serializers.ChoiceField(choices=[c for c in DelayLevel.choices if c[0] != "none"])
    after = IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)
    unit = serializers.ChoiceField(choices=PeriodUnit.choices, default=PeriodUnit.WORKING_DAYS)
    at_statutory_deadline = serializers.BooleanField(default=False)

    class Meta:
        model = ThresholdLevel
        fields = ("level", "after", "unit", "at_statutory_deadline")


class ThresholdRuleSerializer(StrictBodyMixin, serializers.ModelSerializer):
    serializer_field_mapping = ASCII_DIGIT_FIELD_MAPPING
    url = serializers.HyperlinkedIdentityField(
        view_name="v1:threshold-rule-detail", lookup_field="id"
    )
    authority = serializers.SlugRelatedField(
        slug_field="code",
        queryset=LicensingAuthority.objects.all(),
        required=False,
        allow_null=True,
    )
    item = ControlCodeField(required=False, allow_null=True)
    exporter = OrganizationExporterField(required=False, allow_null=True)
    material_family = serializers.ChoiceField(
        choices=MaterialFamily.choices, required=False, allow_blank=True
    )
    # Not the ModelSerializer default (a ChoiceField): that answers a blank country as a
    # Country object, which JSON cannot encode (a 500 for every rule without a destination).
    destination_country = CountryCodeField(required=False, allow_blank=True)
    levels = ThresholdLevelSerializer(many=True)
    repeat_every = IntegerField(min_value=1, max_value=365, required=False, allow_null=True)
    lead_buffer_days = IntegerField(min_value=0, max_value=365, required=False)
    expiry_warning_days = IntegerField(min_value=0, max_value=3650, required=False)
    is_default = serializers.SerializerMethodField(
        help_text="A default for every organization (read-only)."
    )

    class Meta:
        model = ThresholdRule
        fields = (
            "id",
            "url",
            "name",
            "authority",
            "item",
            "material_family",
            "destination_country",
            "exporter",
            "levels",
            "repeat_every",
            "repeat_unit",
            "lead_buffer_days",
            "expiry_warning_days",
            "is_active",
            "is_default",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "url", "version", "created_at", "updated_at")
        extra_kwargs = {"name": {"max_length": 200}}

    def get_is_default(self, rule: ThresholdRule) -> bool:
        return rule.organization_id is None


class ThresholdRuleViewSet(ResourceViewSet):
    """Threshold rules of the caller's organization; the defaults for everyone are listed read-only.

    The most specific matching rule applies: most scope fields set, then exporter > item >
    material family > destination > authority > organization, then the older rule.
    """

    queryset = ThresholdRule.objects.select_related(
        "authority", "item", "exporter"
    ).prefetch_related("levels")
    serializer_class = ThresholdRuleSerializer
    ordering_fields = ("created_at", "updated_at", "name")

    def get_queryset(self):
        rules = self.queryset.all()
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return rules.filter(Q(organization=self.organization) | Q(organization__isnull=True))
        return rules.filter(organization=self.organization)

    @staticmethod
    def _levels(data):
        return [LevelInput(**level) for level in data.pop("levels")] if "levels" in data else None

    def perform_create_object(self, data):
        levels = self._levels(data)
        return threshold_rule_create(
            organization=self.organization, levels=levels, actor=self.actor, **data
        )

    def perform_update_object(self, instance, data, version):
        levels = self._levels(data)
        return threshold_rule_update(
            rule=instance, actor=self.actor, expected_version=version, levels=levels, **data
        )

    def perform_delete_object(self, instance, version):
        threshold_rule_delete(rule=instance, actor=self.actor, expected_version=version)


class AlertSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="v1:alert-detail", lookup_field="id")
    # lookup_field "pk" lets DRF build the link from application_id, without a query per alert.
    application = serializers.HyperlinkedRelatedField(
        view_name="v1:license-application-detail",
        lookup_field="pk",
        lookup_url_kwarg="id",
        read_only=True,
    )
    application_id = serializers.UUIDField(read_only=True, allow_null=True)
    shipments = serializers.SerializerMethodField()
    rule = serializers.UUIDField(source="rule_id", read_only=True, allow_null=True)
    escalates = serializers.UUIDField(source="escalates_id", read_only=True, allow_null=True)
    state = serializers.CharField(read_only=True)
    wait = serializers.SerializerMethodField()
    acknowledged_by = serializers.CharField(source="acknowledged_by_label", read_only=True)

    class Meta:
        model = DelayAlert
        fields = (
            "id",
            "url",
            "kind",
            "level",
            "repeat_index",
            "state",
            "message",
            "application",
            "application_id",
            "shipments",
            "wait",
            "rule",
            "escalates",
            "raised_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledge_note",
            "resolved_at",
            "resolution",
            "created_at",
            "updated_at",
        )

    def get_shipments(self, alert: DelayAlert) -> list[str]:
        return [str(shipment.pk) for shipment in alert.shipments.all()]

    def get_wait(self, alert: DelayAlert) -> dict | None:
        if alert.wait_elapsed is None:
            return None
        return {"elapsed": alert.wait_elapsed, "unit": alert.wait_unit}


class AlertFilter(django_filters.FilterSet):
    kind = MultiValueChoiceFilter(choices=AlertKind.choices, distinct=False)
    level = MultiValueChoiceFilter(choices=DelayLevel.choices, distinct=False)
    state = django_filters.ChoiceFilter(
        choices=(("open", "open"), ("acknowledged", "acknowledged"), ("resolved", "resolved")),
        method="filter_state",
    )
    exporter = django_filters.UUIDFilter(method="filter_exporter")
    authority = django_filters.CharFilter(method="filter_authority", max_length=20)
    raised_after = IsoDateTimeFilter(field_name="raised_at", lookup_expr="gte")

    class Meta:
        model = DelayAlert
        fields = ("kind", "level", "state", "exporter", "authority", "raised_after")

    def filter_state(self, queryset, name, value):
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        if value == "acknowledged":
            return queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=False)
        return queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=True)

    def filter_authority(self, queryset, name, value):
        # A shipment's alert without an application is about the authority of its items.
        items_of_authority = ShipmentLine.objects.filter(
            shipment=OuterRef("shipment_id"), item__authority__code=value
        )
        return queryset.filter(
            Q(application__authority__code=value)
            | (Q(application__isnull=True) & Exists(items_of_authority))
        )

    def filter_exporter(self, queryset, name, value):
        return queryset.filter(Q(application__exporter_id=value) | Q(shipment__exporter_id=value))


class AcknowledgeSerializer(StrictBodyMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class AlertViewSet(ETagRetrieveMixin, mixins.ListModelMixin, OrganizationScopedViewSet):
    """Alerts raised by the delay scan. They resolve themselves when their cause ends."""

    queryset = DelayAlert.objects.prefetch_related("shipments")
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ("raised_at", "created_at")
    default_ordering = "-raised_at"

    @extend_schema(
        operation_id="alerts_acknowledge", request=AcknowledgeSerializer, responses=AlertSerializer
    )
    @idempotent
    @action(detail=True, methods=["post"], serializer_class=AcknowledgeSerializer)
    def acknowledge(self, request, id=None):
        """Acknowledge the alert, with an optional note. Acknowledging twice keeps the first."""
        alert = self.get_object()
        serializer = AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = alert_acknowledge(
            alert=alert, actor=self.actor, note=serializer.validated_data["note"]
        )
        return Response(
            AlertSerializer(alert, context=self.get_serializer_context()).data,
            status=status.HTTP_200_OK,
        )
