"""Organizations (the tenants, with their staff members) and their exporters."""

from django.contrib import admin

from core.admin import AuditedModelAdmin
from licensing.admin.scoping import OrganizationScopedAdminMixin
from licensing.models import Exporter, Organization


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdminMixin, AuditedModelAdmin):
    """Members are the staff who see and work this organization's rows in the admin."""

    organization_path = "pk"
    list_display = ("name", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    filter_horizontal = ("members",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(Exporter)
class ExporterAdmin(OrganizationScopedAdminMixin, AuditedModelAdmin):
    list_display = ("name", "country", "registration_number", "organization", "contact_name")
    list_filter = ("country", ("organization", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("name", "registration_number")
    readonly_fields = ("version", "created_at", "updated_at")
