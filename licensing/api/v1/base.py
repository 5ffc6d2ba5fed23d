"""The shared behaviour of every v1 resource, written once (NetBox style).

A resource declares a queryset, a serializer, a filterset and the services that write it.
This base supplies: tenancy (queryset scoped to the caller's organization), ETag on
single-object reads, If-Match on PATCH/PUT/DELETE, Idempotency-Key on POST, keyset
pagination, Location on create. Serializers validate shape only; services decide and write.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.actors import Actor
from core.api.conditional import etag_for, expected_version
from core.api.idempotency import idempotent
from core.concurrency import stale_version
from licensing.api.authentication import ApiKeyClient
from licensing.api.tenancy import ActsForOrganization, request_actor, request_organization
from licensing.models import Organization

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def etag_version(instance: Model) -> int:
    """What an ETag names: the row's version, or for rows without one its last update time."""
    version = getattr(instance, "version", None)
    return version if version is not None else int(instance.updated_at.timestamp() * 1_000_000)


class ETagRetrieveMixin:
    """A single-object GET that answers with the object's ETag."""

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        return Response(
            self.get_serializer(instance).data, headers={"ETag": etag_for(etag_version(instance))}
        )


class OrganizationScopedViewSet(viewsets.GenericViewSet):
    permission_classes = [ActsForOrganization]
    lookup_field = "id"
    lookup_value_regex = UUID_PATTERN
    ordering_fields: tuple[str, ...] = ("created_at", "updated_at")
    default_ordering = "-created_at"

    @property
    def organization(self) -> Organization:
        organization = request_organization(self.request)
        assert organization is not None  # ActsForOrganization guarantees it
        return organization

    @property
    def actor(self) -> Actor:
        return request_actor(self.request)

    def idempotency_scope(self, request: Request) -> str:
        if isinstance(request.user, ApiKeyClient):
            return f"api-key:{request.user.api_key.pk}"
        return f"user:{request.user.pk}"

    def get_queryset(self) -> QuerySet:
        return super().get_queryset().filter(organization=self.organization)


class ResourceViewSet(ETagRetrieveMixin, OrganizationScopedViewSet):
    """Create, read, list, update and delete through the resource's services.

    Subclasses implement `perform_create_object(data)`, `perform_update_object(instance, data,
    version)` and `perform_delete_object(instance, version)`; the serializer class for writes
    may differ (`write_serializer_class`).
    """

    write_serializer_class: Any = None
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    # -- hooks --------------------------------------------------------------------------------
    def perform_create_object(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def perform_update_object(
        self, instance: Model, data: dict[str, Any], version: int | None
    ) -> Model:
        raise NotImplementedError

    def perform_delete_object(self, instance: Model, version: int | None) -> None:
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------
    def get_write_serializer(self, *args: Any, **kwargs: Any):
        serializer_class = self.write_serializer_class or self.get_serializer_class()
        kwargs.setdefault("context", self.get_serializer_context())
        return serializer_class(*args, **kwargs)

    def represent(
        self, instance: Model, status_code: int = status.HTTP_200_OK, **headers: str
    ) -> Response:
        fresh = self.get_queryset().get(pk=instance.pk)
        data = self.get_serializer(fresh).data
        return Response(
            data, status=status_code, headers={"ETag": etag_for(fresh.version), **headers}
        )

    # -- actions ------------------------------------------------------------------------------
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_write_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_create_object(serializer.validated_data)
        location = self.reverse_detail(instance)
        return self.represent(instance, status.HTTP_201_CREATED, Location=location)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        version = expected_version(request.headers.get("If-Match"))
        if version is not None and version != instance.version:
            # Before the body is read: a stale copy sent back whole is 412 (read it again), not
            # 400 for the read-only fields that moved since (core.api.strict_bodies). The
            # service checks again inside its write.
            raise stale_version(instance, version)
        serializer = self.get_write_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.perform_update_object(instance, serializer.validated_data, version)
        return self.represent(instance)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        version = expected_version(request.headers.get("If-Match"))
        self.perform_delete_object(instance, version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def reverse_detail(self, instance: Model) -> str:
        from rest_framework.reverse import reverse

        return reverse(
            f"v1:{self.basename}-detail", kwargs={"id": instance.pk}, request=self.request
        )
