"""The shipments queue: at-risk and expiring first, with the license that covers each one.

Flags come from stored columns the delay engine keeps (`at_risk`, `license_expiring`) and
the license's own stored delay state, read in the changelist's one query. Status actions
call licensing.services.shipments.shipment_transition, as the API does, row by row.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F

from core.actors import Actor
from core.admin import AuditedModelAdmin
from licensing.admin.actions import (
    ServiceSavesMixin,
    formset_of,
    line_inputs,
    report_per_row,
    with_form,
)
from licensing.admin.display import (
    BADGE_MEDIA,
    admin_link,
    badge,
    delay_badge,
    shipment_status_badge,
)
from licensing.admin.filters import (
    ScopedCountryFilter,
    ShipmentMaterialFamilyFilter,
    ShipmentOpenAlertsFilter,
)
from licensing.admin.forms import TransitionForm
from licensing.admin.imports import ShipmentImportExportMixin
from licensing.admin.scoping import OrganizationScopedAdminMixin, ScopedInlineMixin
from licensing.models import Shipment, ShipmentLine, ShipmentStatus, ShipmentStatusChange
from licensing.selectors.admin_queues import shipment_urgency
from licensing.services.shipments import (
    EDITABLE_STATUSES,
    SHIPMENT_FIELDS,
    shipment_create,
    shipment_transition,
    shipment_update,
)

Status = ShipmentStatus


class ShipmentLineInline(ScopedInlineMixin, admin.TabularInline):
    model = ShipmentLine
    classes = ("lic-plain",)
    extra = 0
    fields = ("item", "quantity", "unit")
    autocomplete_fields = ("item",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item")

    def _is_editable(self, obj) -> bool:
        return obj is None or obj.status in EDITABLE_STATUSES

    def has_add_permission(self, request, obj=None) -> bool:
        return self._is_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._is_editable(obj) and super().has_delete_permission(request, obj)


class ShipmentStatusChangeInline(admin.TabularInline):
    model = ShipmentStatusChange
    classes = ("lic-plain",)
    extra = 0
    can_delete = False
    verbose_name_plural = "status history"
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

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Shipment)
class ShipmentAdmin(
    ShipmentImportExportMixin, ServiceSavesMixin, OrganizationScopedAdminMixin, AuditedModelAdmin
):
    """Shipments waiting for goods to leave, the riskiest first; statuses move by actions."""

    list_display = (
        "external_reference",
        "status_badge",
        "risk",
        "expiring",
        "required_ship_date",
        "license",
        "license_delay",
        "exporter",
        "destination_country",
    )
    list_filter = (
        "status",
        "at_risk",
        "license_expiring",
        ShipmentOpenAlertsFilter,
        ("exporter", admin.RelatedOnlyFieldListFilter),
        ("destination_country", ScopedCountryFilter),
        ShipmentMaterialFamilyFilter,
        ("organization", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("exporter", "license_application__authority", "organization")
    search_fields = (
        "external_reference",
        "consignee_name",
        "exporter__name",
        "exporter__registration_number",
        "license_application__license_number",
        "license_application__authority_reference",
    )
    search_help_text = (
        "Search by shipment reference, consignee, exporter name or registration number, "
        "license number or the authority's reference."
    )
    date_hierarchy = "required_ship_date"
    list_per_page = 100
    readonly_fields = (
        "status",
        "at_risk",
        "license_expiring",
        "shipped_on",
        "delivered_on",
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
                    "external_reference",
                    "exporter",
                    "status",
                    "license_application",
                )
            },
        ),
        (
            "Consignee and destination",
            {
                "fields": (
                    "consignee_name",
                    "consignee_country",
                    "consignee_address",
                    "destination_country",
                )
            },
        ),
        (
            "Dates and risk",
            {
                "fields": (
                    "required_ship_date",
                    "at_risk",
                    "license_expiring",
                    "shipped_on",
                    "delivered_on",
                )
            },
        ),
        ("Record", {"fields": ("version", "created_at", "updated_at")}),
    )
    raw_id_fields = ("license_application",)
    inlines = [ShipmentLineInline, ShipmentStatusChangeInline]
    actions = [
        "mark_licensed",
        "put_on_hold",
        "back_to_awaiting",
        "record_shipped",
        "record_delivered",
        "cancel",
    ]

    @property
    def media(self):
        return super().media + BADGE_MEDIA

    def get_ordering(self, request):
        return (
            shipment_urgency().desc(),
            F("required_ship_date").asc(nulls_last=True),
            "-created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")
            if obj.status not in EDITABLE_STATUSES:
                readonly.extend(SHIPMENT_FIELDS)  # the goods have left: a record now
        return readonly

    def save_by_service(self, request, form, formsets, change):
        """Creation and edits, lines included, go through the shipment services: the
        license coverage (exporter, destination, items, remaining quantity) is checked there."""
        actor = Actor.for_user(request.user)
        shipment = form.instance
        lines_formset = formset_of(formsets, ShipmentLine)
        lines = (
            line_inputs(lines_formset, with_value=False)
            if lines_formset is not None and (lines_formset.has_changed() or not change)
            else None
        )
        if not change:
            created = shipment_create(
                organization=form.cleaned_data["organization"],
                actor=actor,
                lines=lines,
                **{name: form.cleaned_data[name] for name in SHIPMENT_FIELDS},
            )
            shipment.pk = created.pk
            shipment._state.adding = False
            return
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in SHIPMENT_FIELDS
        }
        if changes or lines is not None:
            shipment_update(
                shipment=Shipment.objects.get(pk=shipment.pk), actor=actor, lines=lines, **changes
            )

    # -- columns ------------------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, shipment: Shipment):
        return shipment_status_badge(shipment.status)

    @admin.display(description="at risk", ordering=shipment_urgency().desc())
    def risk(self, shipment: Shipment):
        return badge("at risk", "critical") if shipment.at_risk else "-"

    @admin.display(description="license expiring", ordering="license_expiring")
    def expiring(self, shipment: Shipment):
        if shipment.license_expiring in ("", "none"):
            return "-"
        return delay_badge(shipment.license_expiring)

    @admin.display(description="license", ordering="license_application__license_number")
    def license(self, shipment: Shipment):
        return admin_link(shipment.license_application)

    @admin.display(description="license delay", ordering="license_application__delay_level")
    def license_delay(self, shipment: Shipment):
        application = shipment.license_application
        return delay_badge(application.delay_level) if application else "-"

    # -- workflow actions ---------------------------------------------------------------------

    def _transition(self, request, queryset, *, to_status: str, done: str, title: str, label: str):
        rows = list(queryset)
        actor = Actor.for_user(request.user)

        def apply(form: TransitionForm) -> None:
            def move(shipment: Shipment) -> str:
                shipment_transition(
                    shipment=shipment,
                    to_status=to_status,
                    actor=actor,
                    occurred_at=form.cleaned_data["occurred_at"],
                    note=form.cleaned_data["note"],
                )
                return done

            report_per_row(self, request, rows, move)

        return with_form(
            self,
            request,
            rows,
            form_class=TransitionForm,
            title=title,
            submit_label=label,
            apply=apply,
        )

    @admin.action(description="Mark licensed (approved license linked)", permissions=["change"])
    def mark_licensed(self, request, queryset):
        return self._transition(
            request,
            queryset,
            to_status=Status.LICENSED,
            done="licensed.",
            title="Mark licensed",
            label="Mark licensed",
        )

    @admin.action(description="Put on hold", permissions=["change"])
    def put_on_hold(self, request, queryset):
        return self._transition(
            request,
            queryset,
            to_status=Status.ON_HOLD,
            done="on hold.",
            title="Put on hold",
            label="Put on hold",
        )

    @admin.action(description="Back to awaiting the license", permissions=["change"])
    def back_to_awaiting(self, request, queryset):
        return self._transition(
            request,
            queryset,
            to_status=Status.AWAITING_LICENSE,
            done="awaiting the license.",
            title="Back to awaiting the license",
            label="Move back",
        )

    @admin.action(description="Record shipped", permissions=["change"])
    def record_shipped(self, request, queryset):
        return self._transition(
            request,
            queryset,
            to_status=Status.SHIPPED,
            done="shipped.",
            title="Record that the goods left",
            label="Record shipped",
        )

    @admin.action(description="Record delivered", permissions=["change"])
    def record_delivered(self, request, queryset):
        return self._transition(
            request,
            queryset,
            to_status=Status.DELIVERED,
            done="delivered.",
            title="Record the delivery",
            label="Record delivered",
        )

    @admin.action(description="Cancel", permissions=["change"])
    def cancel(self, request, queryset):
        return self._transition(
            request,
            queryset,
            to_status=Status.CANCELLED,
            done="cancelled; its licensed quantity is released.",
            title="Cancel the shipments",
            label="Cancel shipments",
        )
