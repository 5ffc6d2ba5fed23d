"""Tenant scoping in the admin: staff see only the rows of the organizations they belong to.

Superusers see everything. Other staff see the rows whose organization (reached through
`organization_path`) has them among its `members`, and choose related rows (exporters,
applications, organizations) only among those. Reference data (authorities, items,
announcements) is shared by every organization and is not scoped.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from licensing.models import Organization

# Models whose choices in a form are narrowed to the user's organizations, by the path from
# the model to its organization.
SCOPED_CHOICES = {
    "organization": "pk",
    "exporter": "organization",
    "license_application": "organization",
    "application": "organization",
    "shipment": "organization",
    "endpoint": "organization",
}


def sees_every_organization(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.is_superuser


def member_organizations(request: HttpRequest) -> QuerySet[Organization]:
    """The organizations the user acts for (a subquery, evaluated by the database)."""
    return Organization.objects.filter(members=request.user).values("pk")


def scope_to_member_organizations(
    queryset: QuerySet, request: HttpRequest, organization_path: str, *, include_shared=False
) -> QuerySet:
    """`queryset` narrowed to the rows of the user's organizations (all rows for superusers).

    `include_shared` also keeps rows without an organization (e.g. default threshold rules).
    """
    if sees_every_organization(request):
        return queryset
    condition = Q(**{f"{organization_path}__in": member_organizations(request)})
    if include_shared:
        condition |= Q(**{f"{organization_path}__isnull": True})
    return queryset.filter(condition)


class OrganizationScopedAdminMixin(admin.options.BaseModelAdmin):
    """Narrows the changelist, the change forms and the related-object choices to the user's
    organizations. Set `organization_path` to the lookup from the model to its organization.
    """

    organization_path = "organization"
    # Rows without an organization are shared defaults: visible to every member, editable
    # only by superusers.
    shows_shared_rows = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scope_to_member_organizations(
            super().get_queryset(request),
            request,
            self.organization_path,
            include_shared=self.shows_shared_rows,
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        path = SCOPED_CHOICES.get(db_field.name)
        if path is not None and field is not None and hasattr(field, "queryset"):
            field.queryset = scope_to_member_organizations(field.queryset, request, path)
        return field


class ScopedInlineMixin(OrganizationScopedAdminMixin):
    """An inline's related-object choices narrowed like its parent's (its rows follow the parent)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The parent object is already scoped; the rows of an inline are its children.
        return super(OrganizationScopedAdminMixin, self).get_queryset(request)
