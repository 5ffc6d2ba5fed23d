from django.contrib import admin
from django.utils.html import format_html

from core.actors import Actor
from licensing.clock import application_clock
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    LicenseApplication,
    StatusChange,
)
from licensing.models.applications import PENDING_STATUSES
from licensing.services.applications import DRAFT_FIELDS, PENDING_FIELDS, application_update


class ApplicationLineInline(admin.TabularInline):
    """Lines are the application as filed: editable only while it is a draft."""

    model = ApplicationLine
    extra = 0
    fields = ("item", "quantity", "unit", "value", "currency")
    autocomplete_fields = ("item",)

    def _is_draft(self, obj) -> bool:
        return obj is None or obj.status == ApplicationStatus.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._is_draft(obj) and super().has_delete_permission(request, obj)


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
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
    ordering = ("occurred_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ClockStopInline(admin.TabularInline):
    model = ClockStop
    extra = 0
    can_delete = False
    fields = ("kind", "started_on", "ended_on", "note", "actor_label")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LicenseApplication)
class LicenseApplicationAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "exporter",
        "destination_country",
        "authority",
        "license_type",
        "clock_started_at",
        "authority_reference",
    )
    list_filter = ("status", "authority", "license_type", "destination_country", "organization")
    list_select_related = ("authority", "exporter", "organization")
    search_fields = (
        "authority_reference",
        "license_number",
        "exporter__name",
        "exporter__registration_number",
        "end_user_name",
    )
    date_hierarchy = "clock_started_at"
    readonly_fields = (
        "status",
        "clock",
        "submitted_at",
        "accepted_at",
        "clock_started_at",
        "decided_at",
        "license_number",
        "valid_from",
        "valid_until",
        "version",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "organization",
                    "exporter",
                    "authority",
                    "license_type",
                    "status",
                    "clock",
                )
            },
        ),
        (
            "End user and use",
            {
                "fields": (
                    "end_user_name",
                    "end_user_country",
                    "end_user_address",
                    "end_use",
                    "destination_country",
                )
            },
        ),
        (
            "Authority's record",
            {
                "fields": (
                    "authority_reference",
                    "license_number",
                    "valid_from",
                    "valid_until",
                    "decision_note",
                )
            },
        ),
        ("No statutory deadline when", {"fields": ("is_escalated", "involves_watch_listed_party")}),
        (
            "Times",
            {
                "fields": (
                    "submitted_at",
                    "accepted_at",
                    "clock_started_at",
                    "decided_at",
                    "version",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    inlines = [ApplicationLineInline, StatusChangeInline, ClockStopInline]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")
            if obj.status != ApplicationStatus.DRAFT:
                readonly.extend(DRAFT_FIELDS)
            if obj.status not in PENDING_STATUSES:
                readonly.extend(PENDING_FIELDS)
        return readonly

    def save_model(self, request, obj, form, change):
        """Changes go through the same service as the API (rules, version, delay state)."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        changes = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in (*DRAFT_FIELDS, *PENDING_FIELDS)
        }
        application_update(
            application=LicenseApplication.objects.get(pk=obj.pk),
            actor=Actor.for_user(request.user),
            **changes,
        )

    @admin.display(description="Authority's clock")
    def clock(self, obj: LicenseApplication) -> str:
        if obj.pk is None:
            return "-"
        clock = application_clock(obj)
        if clock.clock_started_at is None:
            return "Not started"
        deadline = clock.statutory_deadline or "none (escalated or watch-listed party)"
        return format_html(
            "{} {} elapsed ({} paused); statutory deadline {}{}",
            clock.elapsed,
            clock.unit.replace("_", " "),
            clock.paused_days,
            deadline,
            "" if clock.is_running else "; clock stopped by the decision",
        )
