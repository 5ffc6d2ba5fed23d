"""/api/v1/shipments/: the shipments the organization waits for, and the license covering each.

- `shipments/`: create, read, list, update (If-Match) and delete; linking a license
  application checks coverage (exporter, destination, items, remaining quantity: 422).
- `shipments/{id}/transitions/`: GET the status history; POST a status change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.db.models import Prefetch, Q, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.conditional import etag_for
from core.api.idempotency import idempotent
from core.api.strict_bodies import StrictBodyMixin
from licensing.api.v1.base import ResourceViewSet
from licensing.api.v1.clocks import (
    CLOCK_FIELDS,
    NextThresholdSerializer,
    StatutoryDeadlineField,
    WaitSerializer,
)
from licensing.api.v1.fields import (
    ASCII_DIGIT_FIELD_MAPPING,
    MAX_LINES,
    AllowedTransitionsField,
    ControlCodeField,
    CountryCodeField,
    EnumField,
    ExpectedDecisionSerializer,
    LineSerializer,
    OrganizationApplicationField,
    OrganizationExporterField,
    QuantityField,
    line_inputs,
)
from licensing.api.v1.filters import (
    DateFromToRangeFilter,
    LinesFilterSet,
    MultiValueChoiceFilter,
    StrictBooleanFilter,
)
from licensing.api.v1.transitions import (
    IF_MATCH_OPTIONAL,
    TransitionRequestSerializer,
    history_response,
    history_schema,
    optional_expected_version,
)
from licensing.models import (
    DelayLevel,
    LicenseApplication,
    QuantityUnit,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    ShipmentStatusChange,
)
from licensing.models.shipments import SHIPMENT_TRANSITIONS
from licensing.services.shipments import (
    shipment_create,
    shipment_delete,
    shipment_transition,
    shipment_update,
)

EARLIEST_SHIP_DATE = dt.date(1900, 1, 1)


class ShipmentLineSerializer(LineSerializer):
    item = ControlCodeField()
    quantity = QuantityField()
    unit = EnumField(choices=QuantityUnit.choices)


class ConsigneeSerializer(serializers.Serializer):
    name = serializers.CharField(source="consignee_name", max_length=300)
    country = CountryCodeField(source="consignee_country")
    address = serializers.CharField(
        source="consignee_address", max_length=2000, required=False, allow_blank=True
    )


class LicenseSummarySerializer(serializers.ModelSerializer):
    """The linked license application, in brief."""

    url = serializers.HyperlinkedIdentityField(
        view_name="v1:license-application-detail", lookup_field="id"
    )
    statutory_deadline = StatutoryDeadlineField()

    class Meta:
        model = LicenseApplication
        fields = ("id", "url", "status", "license_number", "valid_until", "statutory_deadline")
        read_only_fields = fields


class ShipmentSerializer(StrictBodyMixin, serializers.ModelSerializer):
    serializer_choice_field = EnumField
    serializer_field_mapping = ASCII_DIGIT_FIELD_MAPPING
    url = serializers.HyperlinkedIdentityField(view_name="v1:shipment-detail", lookup_field="id")
    external_reference = serializers.CharField(
        max_length=100, help_text="Your PO or shipment number; unique in your organization."
    )
    exporter = OrganizationExporterField()
    consignee = ConsigneeSerializer(source="*")
    destination_country = CountryCodeField()
    lines = ShipmentLineSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    license_application = OrganizationApplicationField(
        required=False,
        allow_null=True,
        help_text="The license application that covers this shipment, if any.",
    )
    allowed_transitions = AllowedTransitionsField(SHIPMENT_TRANSITIONS)
    license = LicenseSummarySerializer(
        source="license_application", read_only=True, allow_null=True
    )
    wait = WaitSerializer(source="license_application", read_only=True, allow_null=True)
    statutory_deadline = StatutoryDeadlineField(source="license_application")
    delay_level = serializers.SerializerMethodField(
        help_text="The delay level of the covering application (`none` without one)."
    )
    next_threshold = NextThresholdSerializer(
        source="license_application", read_only=True, allow_null=True
    )
    at_risk = serializers.BooleanField(
        read_only=True,
        help_text="The license decision is expected after the ship date minus the lead buffer "
        "(expected: the forecast's p90 when it rests on history, else the statutory deadline).",
    )
    expected_decision = ExpectedDecisionSerializer(
        source="license_application", read_only=True, allow_null=True
    )
    license_expiring = EnumField(
        choices=DelayLevel.choices,
        read_only=True,
        help_text="warning: the license expires within the warning window; critical: before the ship date.",
    )

    def validate_required_ship_date(self, value: dt.date) -> dt.date:
        # The delay engine counts back from the ship date: in year 1 it runs off the calendar
        # (OverflowError, a 500).
        if value < EARLIEST_SHIP_DATE:
            raise serializers.ValidationError(
                f"Give a date on or after {EARLIEST_SHIP_DATE.isoformat()}.", code="min_value"
            )
        return value

    def get_delay_level(self, shipment: Shipment) -> str:
        application = shipment.license_application
        return application.delay_level if application else DelayLevel.NONE

    class Meta:
        model = Shipment
        fields = (
            "id",
            "url",
            "created_at",
            "updated_at",
            "version",
            "status",
            "external_reference",
            "exporter",
            "consignee",
            "destination_country",
            "required_ship_date",
            "lines",
            "license_application",
            "license",
            "shipped_on",
            "delivered_on",
            "allowed_transitions",
            "wait",
            "statutory_deadline",
            "delay_level",
            "next_threshold",
            "at_risk",
            "license_expiring",
            "expected_decision",
        )
        read_only_fields = (
            "id",
            "version",
            "created_at",
            "updated_at",
            "status",
            "shipped_on",
            "delivered_on",
        )
        # Read-only fields that the linked application, the clock, the delay scan and the
        # forecast change without a new version of the shipment: a request may send them back
        # as read earlier (core.api.strict_bodies).
        computed_fields = ("license", "license_expiring", *CLOCK_FIELDS)
        # Uniqueness of external_reference is the service's to check, per organization.
        validators: list = []


class ShipmentStatusChangeSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = ShipmentStatusChange
        fields = (
            "id",
            "from_status",
            "to_status",
            "occurred_at",
            "recorded_at",
            "actor",
            "note",
            "request_id",
        )
        read_only_fields = fields


# Named without its Request: the request component of a serializer gets it appended.
@extend_schema_serializer(component_name="ShipmentTransition")
class ShipmentTransitionRequestSerializer(TransitionRequestSerializer):
    to = EnumField(choices=ShipmentStatus.choices)


class ShipmentFilter(LinesFilterSet):
    status = MultiValueChoiceFilter(
        distinct=False,  # no join: DISTINCT would only add a sort over every column
        choices=ShipmentStatus.choices,
    )
    authority = django_filters.CharFilter(
        method="filter_authority",
        max_length=20,
        help_text="Has a line of an item this authority controls (code, e.g. CN-MOFCOM).",
    )
    required_ship_date = DateFromToRangeFilter(
        help_text="As required_ship_date_after and required_ship_date_before (both inclusive)."
    )
    license_application = django_filters.UUIDFilter(
        field_name="license_application_id", help_text="License application id."
    )
    delay_level = MultiValueChoiceFilter(
        distinct=False,  # no join: DISTINCT would only add a sort over every column
        choices=DelayLevel.choices,
        method="filter_delay_level",
        help_text="The delay level of the covering application; `none` includes shipments with none.",
    )
    at_risk = StrictBooleanFilter()

    line_model = ShipmentLine
    line_parent = "shipment"
    search_fields = (
        "external_reference",
        "exporter__name",
        "license_application__authority_reference",
        "license_application__license_number",
    )

    class Meta:
        model = Shipment
        fields = (
            "status",
            "exporter",
            "authority",
            "item",
            "material_family",
            "destination_country",
            "required_ship_date",
            "license_application",
            "updated_since",
            "delay_level",
            "at_risk",
            "search",
        )

    def filter_delay_level(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        condition = Q(license_application__delay_level__in=value)
        if DelayLevel.NONE in value:
            condition |= Q(license_application__isnull=True)
        return queryset.filter(condition)

    def filter_authority(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return self.with_lines(queryset, item__authority__code=value)


class ShipmentViewSet(ResourceViewSet):
    """Shipments of the caller's organization, each with the license that covers it.

    Shipped and delivered shipments are records: they can be neither edited nor deleted.
    The status changes only through `transitions/`.
    """

    queryset = Shipment.objects.select_related("license_application__authority").prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.objects.select_related("item")),
        "license_application__status_changes",
        "license_application__clock_stops",
    )
    serializer_class = ShipmentSerializer
    filterset_class = ShipmentFilter
    ordering_fields = ("created_at", "updated_at", "required_ship_date")

    def perform_create_object(self, data: dict[str, Any]) -> Shipment:
        lines = line_inputs(data.pop("lines"))
        return shipment_create(
            organization=self.organization, actor=self.actor, lines=lines, **data
        )

    def perform_update_object(
        self, instance: Shipment, data: dict[str, Any], version: int | None
    ) -> Shipment:
        if "lines" in data:
            data["lines"] = line_inputs(data["lines"])
        return shipment_update(
            shipment=instance, actor=self.actor, expected_version=version, **data
        )

    def perform_delete_object(self, instance: Shipment, version: int | None) -> None:
        shipment_delete(shipment=instance, actor=self.actor, expected_version=version)

    @extend_schema(
        operation_id="shipments_transitions_list",
        summary="Status history",
        responses=history_schema(ShipmentStatusChangeSerializer, "ShipmentStatusChangeList"),
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="transitions", pagination_class=None)
    def transitions(self, request: Request, id: str | None = None) -> Response:
        shipment = self.get_object()
        return history_response(
            ShipmentStatusChangeSerializer(shipment.status_changes.all(), many=True),
            ETag=etag_for(shipment.version),
        )

    @extend_schema(
        summary="Move to another status",
        request=ShipmentTransitionRequestSerializer,
        responses={201: ShipmentStatusChangeSerializer},
        parameters=[IF_MATCH_OPTIONAL],
        filters=False,
    )
    @transitions.mapping.post
    @idempotent
    def transition_create(self, request: Request, id: str | None = None) -> Response:
        shipment = self.get_object()
        version = optional_expected_version(request)
        serializer = ShipmentTransitionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        change = shipment_transition(
            shipment=shipment,
            to_status=data.pop("to"),
            actor=self.actor,
            expected_version=version,
            **data,
        )
        return Response(
            ShipmentStatusChangeSerializer(change).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag_for(shipment.version)},
        )
