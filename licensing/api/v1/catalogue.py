"""/api/v1/authorities/ and /api/v1/controlled-items/: read-only reference catalogues."""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers, viewsets

from licensing.api.tenancy import HasModelPermission, IsAuthenticatedClient
from licensing.api.v1.base import ETagRetrieveMixin
from licensing.models import ControlledItem, ControlPeriod, LicensingAuthority, MaterialFamily


class LicensingAuthoritySerializer(serializers.HyperlinkedModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="v1:authority-detail", lookup_field="code")

    class Meta:
        model = LicensingAuthority
        fields = (
            "id",
            "url",
            "code",
            "name",
            "country",
            "review_period",
            "review_period_unit",
            "clock_start_event",
            "calendar_country",
            "time_zone",
            "amendment_review_period",
            "legal_basis",
            "created_at",
            "updated_at",
        )


class ControlPeriodSerializer(serializers.ModelSerializer):
    announcement = serializers.CharField(
        source="announcement.number", allow_null=True, default=None
    )

    class Meta:
        model = ControlPeriod
        fields = ("announcement", "starts_on", "suspended_from", "suspended_until", "ends_on")


class ControlledItemSerializer(serializers.HyperlinkedModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="v1:controlled-item-detail", lookup_field="control_code"
    )
    authority = serializers.SlugRelatedField(slug_field="code", read_only=True)
    announcement = serializers.CharField(
        source="announcement.number", allow_null=True, default=None
    )
    control_periods = ControlPeriodSerializer(many=True, read_only=True)

    class Meta:
        model = ControlledItem
        fields = (
            "id",
            "url",
            "control_code",
            "name",
            "material_family",
            "hs_codes",
            "authority",
            "announcement",
            "code_verified",
            "control_periods",
            "created_at",
            "updated_at",
        )


class ControlledItemFilter(django_filters.FilterSet):
    authority = django_filters.CharFilter(field_name="authority__code", max_length=20)
    material_family = django_filters.ChoiceFilter(choices=MaterialFamily.choices)

    class Meta:
        model = ControlledItem
        fields = ("authority", "material_family")


class LicensingAuthorityViewSet(mixins.ListModelMixin, ETagRetrieveMixin, viewsets.GenericViewSet):
    """Licensing authorities and the rules of their clocks. Addressed by code, e.g. CN-MOFCOM."""

    queryset = LicensingAuthority.objects.all()
    serializer_class = LicensingAuthoritySerializer
    permission_classes = [IsAuthenticatedClient, HasModelPermission]
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9-]{1,20}"
    ordering_fields = ("code",)
    default_ordering = "code"


class ControlledItemViewSet(mixins.ListModelMixin, ETagRetrieveMixin, viewsets.GenericViewSet):
    """Controlled items with their control periods. Addressed by control code, e.g. 1C905."""

    queryset = ControlledItem.objects.select_related("authority", "announcement").prefetch_related(
        "control_periods__announcement"
    )
    serializer_class = ControlledItemSerializer
    filterset_class = ControlledItemFilter
    permission_classes = [IsAuthenticatedClient, HasModelPermission]
    lookup_field = "control_code"
    lookup_value_regex = r"[A-Za-z0-9.\-]{1,30}"
    ordering_fields = ("control_code",)
    default_ordering = "control_code"
