from django.contrib import admin

from licensing.models import Exporter, Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(Exporter)
class ExporterAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "registration_number", "organization", "contact_name")
    list_filter = ("country", "organization")
    list_select_related = ("organization",)
    search_fields = ("name", "registration_number")
    readonly_fields = ("version", "created_at", "updated_at")
