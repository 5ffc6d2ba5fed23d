"""Tenant scoping in the admin: staff see only the rows of the organizations they belong to.

Active superusers see everything. Other staff see the rows whose organization (reached
through `organization_path`) has them among its `members`, and choose related rows
(exporters, applications, organizations) only among those. Reference data (authorities,
items, announcements) is shared by every organization and is not scoped. Who acts for which
organization is defined once, in licensing.selectors.memberships.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from licensing.selectors.memberships import scope_to_member_organizations

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
            request.user,
            self.organization_path,
            include_shared=self.shows_shared_rows,
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        path = SCOPED_CHOICES.get(db_field.name)
        if path is not None and field is not None and hasattr(field, "queryset"):
            field.queryset = scope_to_member_organizations(field.queryset, request.user, path)
        return field


class ScopedInlineMixin(OrganizationScopedAdminMixin):
    """An inline's related-object choices narrowed like its parent's (its rows follow the parent)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The parent object is already scoped; the rows of an inline are its children.
        return super(OrganizationScopedAdminMixin, self).get_queryset(request)
