from django.contrib import admin

from licensing.models import Shipment, ShipmentLine, ShipmentStatusChange


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    fields = ("item", "quantity", "unit")
    autocomplete_fields = ("item",)


class ShipmentStatusChangeInline(admin.TabularInline):
    model = ShipmentStatusChange
    extra = 0
    can_delete = False
    fields = (
        "from_status",
        "to_status",
        "occurred_at",
        "recorded_at",
        "actor_label",
        "note",
        "request_id",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = (
        "external_reference",
        "status",
        "exporter",
        "destination_country",
        "required_ship_date",
        "license_application",
    )
    list_filter = ("status", "destination_country", "organization")
    list_select_related = ("exporter", "license_application__authority", "organization")
    search_fields = (
        "external_reference",
        "exporter__name",
        "license_application__license_number",
        "license_application__authority_reference",
    )
    date_hierarchy = "required_ship_date"
    ordering = ("required_ship_date",)
    readonly_fields = (
        "status",
        "shipped_on",
        "delivered_on",
        "version",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("license_application",)
    inlines = [ShipmentLineInline, ShipmentStatusChangeInline]
