"""Reference data shared by every organization: authorities, announcements, controlled items."""

from django.contrib import admin

from core.admin import AuditedModelAdmin
from licensing.models import ControlAnnouncement, ControlledItem, ControlPeriod, LicensingAuthority


@admin.register(LicensingAuthority)
class LicensingAuthorityAdmin(AuditedModelAdmin):
    list_display = (
        "code",
        "name",
        "review_period",
        "review_period_unit",
        "clock_start_event",
        "calendar_country",
        "time_zone",
    )
    search_fields = ("code", "name")


@admin.register(ControlAnnouncement)
class ControlAnnouncementAdmin(AuditedModelAdmin):
    list_display = ("number", "authority", "title", "published_on", "effective_on")
    list_filter = ("authority",)
    search_fields = ("number", "title")


class ControlPeriodInline(admin.TabularInline):
    model = ControlPeriod
    extra = 0
    fields = ("announcement", "starts_on", "suspended_from", "suspended_until", "ends_on")


@admin.register(ControlledItem)
class ControlledItemAdmin(AuditedModelAdmin):
    list_display = (
        "control_code",
        "name",
        "material_family",
        "authority",
        "announcement",
        "code_verified",
    )
    list_filter = ("authority", "material_family", "code_verified")
    list_select_related = ("authority", "announcement__authority")
    search_fields = ("control_code", "name", "hs_codes")
    inlines = [ControlPeriodInline]
