"""API keys of organizations, for staff: created here, shown once, revoked for good."""

from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from core.admin import AuditedModelAdmin
from licensing.admin.scoping import OrganizationScopedAdminMixin
from licensing.models import OrganizationAPIKey

# The library's own key model is not used: keys belong to organizations.
admin.site.unregister(APIKey)


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(OrganizationScopedAdminMixin, APIKeyModelAdmin, AuditedModelAdmin):
    """Keys are shown once, in the message after "Save"; only the prefix and a hash are kept."""

    list_display = (*APIKeyModelAdmin.list_display, "organization", "is_read_only")
    list_filter = (
        *APIKeyModelAdmin.list_filter,
        ("organization", admin.RelatedOnlyFieldListFilter),
        "is_read_only",
    )
    list_select_related = ("organization",)
    search_fields = (*APIKeyModelAdmin.search_fields, "organization__name")
