"""/api/v1/license-applications/: applications, their status history and clock stops.

- `license-applications/`: create, read, list, update (If-Match) and delete (drafts only).
- `license-applications/{id}/transitions/`: GET the status history; POST a status change.
- `license-applications/{id}/clock-stops/`: GET the recorded stops; POST a new one;
  PATCH `clock-stops/{stop_id}/` closes an open one.

The histories come whole, not paginated: see licensing.api.v1.transitions.
"""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.conditional import etag_for
from core.api.idempotency import idempotent
from core.api.strict_bodies import StrictBodyMixin
from licensing.api.v1.base import UUID_PATTERN, ResourceViewSet
from licensing.api.v1.clocks import (
    CLOCK_FIELDS,
    NextThresholdSerializer,
    StatutoryDeadlineField,
    WaitSerializer,
)
from licensing.api.v1.fields import (
    ASCII_DIGIT_FIELD_MAPPING,
    MAX_LINES,
    MAX_TEXT,
    AllowedTransitionsField,
    AuthorityCodeField,
    ControlCodeField,
    CountryCodeField,
    DateField,
    DecimalField,
    EnumField,
    ExpectedDecisionSerializer,
    LineSerializer,
    OrganizationExporterField,
    QuantityField,
    line_inputs,
)
from licensing.api.v1.filters import LinesFilterSet, MultiValueChoiceFilter, StrictBooleanFilter
from licensing.api.v1.transitions import (
    IF_MATCH_OPTIONAL,
    TransitionRequestSerializer,
    history_response,
    history_schema,
    optional_expected_version,
)
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    DelayLevel,
    LicenseApplication,
    QuantityUnit,
    Shipment,
    StatusChange,
)
from licensing.models.applications import APPLICATION_TRANSITIONS
from licensing.services.applications import (
    DRAFT_FIELDS,
    PENDING_FIELDS,
    application_create,
    application_delete,
    application_transition,
    application_update,
    clock_stop_end,
    clock_stop_record,
)


class ApplicationLineSerializer(LineSerializer):
    item = ControlCodeField()
    quantity = QuantityField()
    unit = EnumField(choices=QuantityUnit.choices)
    value = DecimalField(
        max_digits=18,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="Declared value of the line, in `currency`.",
    )
    currency = serializers.RegexField(
        r"^[A-Z]{3}\Z",
        max_length=3,
        required=False,
        allow_blank=True,
        default="",
        help_text="ISO 4217 code, e.g. USD; needed with a value.",
        error_messages={"invalid": "Give an ISO 4217 currency code of 3 capital letters."},
    )


class EndUserSerializer(serializers.Serializer):
    name = serializers.CharField(source="end_user_name", max_length=300)
    country = CountryCodeField(source="end_user_country")
    address = serializers.CharField(
        source="end_user_address", max_length=2000, required=False, allow_blank=True
    )


class LicenseApplicationSerializer(StrictBodyMixin, serializers.ModelSerializer):
    serializer_choice_field = EnumField
    serializer_field_mapping = ASCII_DIGIT_FIELD_MAPPING
    url = serializers.HyperlinkedIdentityField(
        view_name="v1:license-application-detail", lookup_field="id"
    )
    exporter = OrganizationExporterField()
    authority = AuthorityCodeField()
    end_user = EndUserSerializer(source="*")
    end_use = serializers.CharField(max_length=MAX_TEXT)
    destination_country = CountryCodeField()
    lines = ApplicationLineSerializer(many=True, required=False, max_length=MAX_LINES)
    allowed_transitions = AllowedTransitionsField(APPLICATION_TRANSITIONS)
    wait = WaitSerializer(read_only=True)
    statutory_deadline = StatutoryDeadlineField()
    delay_level = EnumField(choices=DelayLevel.choices, read_only=True)
    next_threshold = NextThresholdSerializer(read_only=True, allow_null=True)
    at_risk = serializers.BooleanField(
        read_only=True,
        help_text="A shipment waiting for this application is at risk of missing its ship date.",
    )
    expected_decision = ExpectedDecisionSerializer(source="*", read_only=True, allow_null=True)

    class Meta:
        model = LicenseApplication
        fields = (
            "id",
            "url",
            "created_at",
            "updated_at",
            "version",
            "status",
            "exporter",
            "authority",
            "license_type",
            "end_user",
            "end_use",
            "destination_country",
            "lines",
            "is_escalated",
            "involves_watch_listed_party",
            "authority_reference",
            "license_number",
            "valid_from",
            "valid_until",
            "decision_note",
            "submitted_at",
            "accepted_at",
            "clock_started_at",
            "decided_at",
            "allowed_transitions",
            *CLOCK_FIELDS,
        )
        read_only_fields = (
            "id",
            "version",
            "created_at",
            "updated_at",
            "status",
            "authority_reference",
            "license_number",
            "valid_from",
            "valid_until",
            "decision_note",
            "submitted_at",
            "accepted_at",
            "clock_started_at",
            "decided_at",
        )
        # Read-only fields that the clock, the delay scan and the forecast change without a
        # new version: a request may send them back as read earlier (core.api.strict_bodies).
        computed_fields = CLOCK_FIELDS
        validators: list = []


class LicenseApplicationUpdateSerializer(LicenseApplicationSerializer):
    """On update the authority's reference may be filled in (or corrected) until the decision."""

    class Meta(LicenseApplicationSerializer.Meta):
        read_only_fields = tuple(
            field
            for field in LicenseApplicationSerializer.Meta.read_only_fields
            if field != "authority_reference"
        )
        extra_kwargs = {"authority_reference": {"allow_blank": True, "max_length": 100}}


class StatusChangeSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = StatusChange
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
@extend_schema_serializer(component_name="ApplicationTransition")
class ApplicationTransitionRequestSerializer(TransitionRequestSerializer):
    to = EnumField(choices=ApplicationStatus.choices)
    authority_reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="The authority's application number; needed to move to `accepted`.",
    )
    license_number = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed to move to `approved`.",
    )
    valid_from = DateField(
        required=False, allow_null=True, default=None, help_text="Needed to move to `approved`."
    )
    valid_until = DateField(
        required=False, allow_null=True, default=None, help_text="Needed to move to `approved`."
    )


class ClockStopSerializer(StrictBodyMixin, serializers.ModelSerializer):
    serializer_choice_field = EnumField
    serializer_field_mapping = ASCII_DIGIT_FIELD_MAPPING
    actor = serializers.CharField(source="actor_label", read_only=True)
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)

    class Meta:
        model = ClockStop
        fields = (
            "id",
            "kind",
            "started_on",
            "ended_on",
            "note",
            "actor",
            "request_id",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "actor", "request_id", "created_at", "updated_at")


class ClockStopEndSerializer(StrictBodyMixin, serializers.Serializer):
    ended_on = DateField(help_text="The last day of the stop (it counts as paused).")


class LicenseApplicationFilter(LinesFilterSet):
    status = MultiValueChoiceFilter(
        distinct=False,  # no join: DISTINCT would only add a sort over every column
        choices=ApplicationStatus.choices,
    )
    authority = django_filters.CharFilter(
        field_name="authority__code", max_length=20, help_text="Authority code, e.g. CN-MOFCOM."
    )
    delay_level = MultiValueChoiceFilter(
        distinct=False,  # no join: DISTINCT would only add a sort over every column
        choices=DelayLevel.choices,
    )
    at_risk = StrictBooleanFilter(help_text="A waiting shipment is at risk.")

    line_model = ApplicationLine
    line_parent = "application"
    search_fields = ("authority_reference", "license_number", "exporter__name")

    class Meta:
        model = LicenseApplication
        fields = (
            "status",
            "exporter",
            "authority",
            "item",
            "material_family",
            "destination_country",
            "updated_since",
            "delay_level",
            "at_risk",
            "search",
        )


# Fields compared with the stored row before an update, so that a PUT repeating the current
# draft fields of a submitted application changes only what it changes.
_COMPARED_FIELDS = (*DRAFT_FIELDS, *PENDING_FIELDS)


def _differs(application: LicenseApplication, field: str, value: Any) -> bool:
    if field in ("exporter", "authority"):  # compare ids: no query for the related row
        return getattr(application, f"{field}_id") != value.pk
    return getattr(application, field) != value


def _changes(application: LicenseApplication, data: dict[str, Any]) -> dict[str, Any]:
    """The validated fields whose values differ from the application's."""
    changes = {
        field: value
        for field, value in data.items()
        if field not in _COMPARED_FIELDS or _differs(application, field, value)
    }
    if "lines" in changes:
        current = [
            (line.item_id, line.quantity, line.unit, line.value, line.currency)
            for line in application.lines.all()
        ]
        requested = [
            (line["item"].pk, line["quantity"], line["unit"], line["value"], line["currency"])
            for line in changes["lines"]
        ]
        if current == requested:
            del changes["lines"]
    return changes


# An update answers the application as a read does: one model in generated clients.
@extend_schema_view(
    update=extend_schema(responses=LicenseApplicationSerializer),
    partial_update=extend_schema(responses=LicenseApplicationSerializer),
)
class LicenseApplicationViewSet(ResourceViewSet):
    """License applications of the caller's organization, with their statutory clock.

    Draft fields change only while in draft; `is_escalated`, `involves_watch_listed_party`
    and `authority_reference` until the decision. The status changes only through
    `transitions/`. Only drafts can be deleted; withdraw the others.
    """

    queryset = (
        LicenseApplication.objects.select_related("authority")
        .prefetch_related(
            Prefetch("lines", queryset=ApplicationLine.objects.select_related("item")),
            "status_changes",
            "clock_stops",
        )
        .annotate(
            at_risk=Exists(
                Shipment.objects.filter(license_application=OuterRef("pk"), at_risk=True)
            )
        )
    )
    serializer_class = LicenseApplicationSerializer
    filterset_class = LicenseApplicationFilter
    ordering_fields = ("created_at", "updated_at")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        if self.action in ("update", "partial_update"):
            return LicenseApplicationUpdateSerializer
        return super().get_serializer_class()

    def perform_create_object(self, data: dict[str, Any]) -> LicenseApplication:
        lines = line_inputs(data.pop("lines", []))
        return application_create(
            organization=self.organization, actor=self.actor, lines=lines, **data
        )

    def perform_update_object(
        self, instance: LicenseApplication, data: dict[str, Any], version: int | None
    ) -> LicenseApplication:
        # With If-Match: * the row may have changed since it was read: send every field.
        changes = _changes(instance, data) if version is not None else dict(data)
        if "lines" in changes:
            changes["lines"] = line_inputs(changes["lines"])
        return application_update(
            application=instance, actor=self.actor, expected_version=version, **changes
        )

    def perform_delete_object(self, instance: LicenseApplication, version: int | None) -> None:
        application_delete(application=instance, actor=self.actor, expected_version=version)

    # -- transitions ----------------------------------------------------------------------------
    @extend_schema(
        operation_id="license_applications_transitions_list",
        summary="Status history",
        responses=history_schema(StatusChangeSerializer, "StatusChangeList"),
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="transitions", pagination_class=None)
    def transitions(self, request: Request, id: str | None = None) -> Response:
        application = self.get_object()
        return history_response(
            StatusChangeSerializer(application.status_changes.all(), many=True),
            ETag=etag_for(application.version),
        )

    @extend_schema(
        summary="Move to another status",
        request=ApplicationTransitionRequestSerializer,
        responses={201: StatusChangeSerializer},
        parameters=[IF_MATCH_OPTIONAL],
        filters=False,
    )
    @transitions.mapping.post
    @idempotent
    def transition_create(self, request: Request, id: str | None = None) -> Response:
        application = self.get_object()
        version = optional_expected_version(request)
        serializer = ApplicationTransitionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        change = application_transition(
            application=application,
            to_status=data.pop("to"),
            actor=self.actor,
            expected_version=version,
            **data,
        )
        return Response(
            StatusChangeSerializer(change).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag_for(application.version)},
        )

    # -- clock stops ----------------------------------------------------------------------------
    @extend_schema(
        operation_id="license_applications_clock_stops_list",
        summary="Recorded clock stops",
        responses=history_schema(ClockStopSerializer, "ClockStopList"),
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="clock-stops", pagination_class=None)
    def clock_stops(self, request: Request, id: str | None = None) -> Response:
        application = self.get_object()
        return history_response(ClockStopSerializer(application.clock_stops.all(), many=True))

    @extend_schema(
        summary="Record a clock stop",
        request=ClockStopSerializer,
        responses={201: ClockStopSerializer},
        filters=False,
    )
    @clock_stops.mapping.post
    @idempotent
    def clock_stop_create(self, request: Request, id: str | None = None) -> Response:
        application = self.get_object()
        serializer = ClockStopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stop = clock_stop_record(
            application=application, actor=self.actor, **serializer.validated_data
        )
        return Response(ClockStopSerializer(stop).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Close an open clock stop",
        request=ClockStopEndSerializer,
        responses={200: ClockStopSerializer},
        filters=False,
    )
    @action(
        detail=True,
        methods=["patch"],
        url_path=rf"clock-stops/(?P<stop_id>{UUID_PATTERN})",
        pagination_class=None,
    )
    def clock_stop_end(
        self, request: Request, id: str | None = None, stop_id: str | None = None
    ) -> Response:
        application = self.get_object()
        wanted = uuid.UUID(stop_id)
        stop = next((each for each in application.clock_stops.all() if each.pk == wanted), None)
        if stop is None:
            raise Http404
        serializer = ClockStopEndSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stop = clock_stop_end(clock_stop=stop, actor=self.actor, **serializer.validated_data)
        return Response(ClockStopSerializer(stop).data)
