"""/api/v1/exporters/: the organization's exporters (full CRUD)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers

from core.api.strict_bodies import StrictBodyMixin
from core.identifiers import identifier_key
from licensing.api.v1.base import ResourceViewSet
from licensing.api.v1.filters import IsoDateTimeFilter
from licensing.models import Exporter
from licensing.services.exporters import exporter_create, exporter_delete, exporter_update


class ExporterSerializer(StrictBodyMixin, serializers.HyperlinkedModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="v1:exporter-detail", lookup_field="id")

    class Meta:
        model = Exporter
        fields = (
            "id",
            "url",
            "name",
            "country",
            "registration_number",
            "address",
            "contact_name",
            "contact_email",
            "contact_phone",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "url", "version", "created_at", "updated_at")
        # The model's TextField has no limit; 2000 as for the end user's and consignee's address.
        extra_kwargs = {"address": {"max_length": 2000}}
        # Uniqueness is the service's to check, per organization.
        validators: list = []


class ExporterFilter(django_filters.FilterSet):
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    search = django_filters.CharFilter(method="filter_search", max_length=200)

    class Meta:
        model = Exporter
        fields = ("country",)

    def filter_search(self, queryset, name, value):
        """By name, or by registration number as a reader sees it (core.identifiers)."""
        from django.db.models import Q

        return queryset.filter(
            Q(name__icontains=value) | Q(registration_key__contains=identifier_key(value))
        )


class ExporterViewSet(ResourceViewSet):
    """Exporters of the caller's organization. CN registration numbers are USCCs."""

    queryset = Exporter.objects.all()
    serializer_class = ExporterSerializer
    filterset_class = ExporterFilter
    ordering_fields = ("created_at", "updated_at", "name")

    def perform_create_object(self, data):
        return exporter_create(organization=self.organization, actor=self.actor, **data)

    def perform_update_object(self, instance, data, version):
        return exporter_update(
            exporter=instance, actor=self.actor, expected_version=version, **data
        )

    def perform_delete_object(self, instance, version):
        exporter_delete(exporter=instance, actor=self.actor, expected_version=version)
