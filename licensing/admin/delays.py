from django.contrib import admin, messages

from core.actors import Actor
from core.models import CalendarException
from licensing.models.delays import DelayAlert, ThresholdLevel, ThresholdRule
from licensing.services.delays import alert_acknowledge
from licensing.services.threshold_rules import delays_recompute_on_commit


class ThresholdLevelInline(admin.TabularInline):
    model = ThresholdLevel
    extra = 0
    fields = ("level", "after", "unit", "at_statutory_deadline")


@admin.register(ThresholdRule)
class ThresholdRuleAdmin(admin.ModelAdmin):
    """Saving a rule re-evaluates the open applications in a background task."""

    list_display = (
        "name",
        "organization",
        "authority",
        "item",
        "material_family",
        "destination_country",
        "exporter",
        "repeat_every",
        "lead_buffer_days",
        "is_active",
    )
    list_filter = ("is_active", "organization", "authority", "material_family")
    search_fields = ("name",)
    autocomplete_fields = ("item", "exporter")
    inlines = [ThresholdLevelInline]
    readonly_fields = ("version", "created_at", "updated_at")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        delays_recompute_on_commit()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        delays_recompute_on_commit()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        delays_recompute_on_commit()


@admin.register(CalendarException)
class CalendarExceptionAdmin(admin.ModelAdmin):
    """Saving an exception re-evaluates the clocks on that country's calendar."""

    list_display = ("date", "country", "is_working_day", "source")
    list_filter = ("country", "is_working_day")
    date_hierarchy = "date"
    search_fields = ("source",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        delays_recompute_on_commit(calendar_country=obj.country)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        delays_recompute_on_commit(calendar_country=obj.country)

    def delete_queryset(self, request, queryset):
        countries = set(queryset.values_list("country", flat=True))
        super().delete_queryset(request, queryset)
        for country in countries:
            delays_recompute_on_commit(calendar_country=country)


@admin.register(DelayAlert)
class DelayAlertAdmin(admin.ModelAdmin):
    list_display = (
        "raised_at",
        "kind",
        "level",
        "repeat_index",
        "message",
        "acknowledged_at",
        "resolved_at",
    )
    list_filter = ("kind", "level", "organization", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("message", "application__authority_reference", "shipment__external_reference")
    date_hierarchy = "raised_at"
    readonly_fields = [field.name for field in DelayAlert._meta.fields] + ["shipments"]
    actions = ["acknowledge"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request, queryset):
        actor = Actor.for_user(request.user)
        for alert in queryset:
            alert_acknowledge(alert=alert, actor=actor)
        self.message_user(request, f"{queryset.count()} alerts acknowledged.", messages.SUCCESS)
