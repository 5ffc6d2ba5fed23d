"""Threshold rules (with a preview before saving), calendar corrections and the alerts queue.

A threshold rule's change form has a "Preview" button next to "Save": it validates the
form as a save would, then shows how many open applications would change delay level
(and to which levels) under the edited rule, without writing anything
(licensing.selectors.threshold_preview). "Save" saves through the same services as the API
(licensing.services.threshold_rules): the rule's version is checked (a rule changed by
someone else since the form was opened is not overwritten), its exporter must belong to its
organization, it needs at least one level, and the saved rule re-evaluates the open
applications in a background task. A refused save shows "Not saved: …" and writes nothing.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.utils import ErrorList

from core.actors import Actor
from core.admin import AuditedModelAdmin
from core.models import CalendarException
from licensing.admin.actions import ServiceSavesMixin, formset_of, report_per_row
from licensing.admin.display import (
    BADGE_MEDIA,
    admin_link,
    alert_state_badge,
    delay_badge,
)
from licensing.admin.filters import AlertStateFilter
from licensing.admin.forms import VersionCheckedModelForm
from licensing.admin.imports import ExportOnlyMixin
from licensing.admin.scoping import OrganizationScopedAdminMixin
from licensing.models.delays import DelayAlert, ThresholdLevel, ThresholdRule
from licensing.selectors.admin_queues import alert_urgency
from licensing.selectors.memberships import sees_every_organization
from licensing.selectors.threshold_preview import threshold_rule_preview
from licensing.services.delays import alert_acknowledge, rule_spec
from licensing.services.threshold_rules import (
    RULE_FIELDS,
    LevelInput,
    delays_recompute_on_commit,
    threshold_rule_create,
    threshold_rule_update,
)

PREVIEW = "_preview"
PREVIEW_ONLY = "preview_only"


class ThresholdLevelInline(admin.TabularInline):
    model = ThresholdLevel
    extra = 0
    fields = ("level", "after", "unit", "at_statutory_deadline")


class ThresholdRuleForm(VersionCheckedModelForm):
    """Holds a "preview only" marker so that a preview never reaches the save."""

    preview_only = False

    def clean(self):
        data = super().clean()
        if self.preview_only:
            # Keeps the admin from saving; removed again before the form is shown.
            raise ValidationError("Preview only: nothing was saved.", code=PREVIEW_ONLY)
        return data


def _drop_preview_marker(form: forms.BaseForm) -> None:
    errors = form.errors.get(NON_FIELD_ERRORS)
    if not errors:
        return
    kept = [error for error in errors.as_data() if error.code != PREVIEW_ONLY]
    if kept:
        form.errors[NON_FIELD_ERRORS] = ErrorList(
            [message for error in kept for message in error.messages],
            error_class="nonfield",
        )
    else:
        del form.errors[NON_FIELD_ERRORS]


def level_inputs(formset) -> list[LevelInput]:
    """The levels a ThresholdLevel formset holds once saved: deleted and blank rows left out."""
    levels = []
    for form in formset.forms if formset is not None else ():
        data = form.cleaned_data
        if not data or data.get("DELETE") or not data.get("level"):
            continue
        levels.append(
            LevelInput(
                level=data["level"],
                after=data.get("after"),
                unit=data.get("unit") or LevelInput.unit,
                at_statutory_deadline=bool(data.get("at_statutory_deadline")),
            )
        )
    return levels


@admin.register(ThresholdRule)
class ThresholdRuleAdmin(ServiceSavesMixin, OrganizationScopedAdminMixin, AuditedModelAdmin):
    """Saves go through threshold_rule_create/update, which re-evaluate the open applications
    in a background task.

    Rules without an organization are the defaults of every organization: members see them,
    only superusers change them. A rule never moves to another organization (as in the API).
    """

    form = ThresholdRuleForm
    shows_shared_rows = True
    list_display = (
        "name",
        "organization",
        "authority",
        "item",
        "material_family",
        "destination_country",
        "exporter",
        "levels_summary",
        "repeat_every",
        "lead_buffer_days",
        "is_active",
    )
    list_filter = (
        "is_active",
        ("organization", admin.RelatedOnlyFieldListFilter),
        "authority",
        "material_family",
    )
    list_select_related = ("organization", "authority", "item", "exporter")
    search_fields = ("name",)
    autocomplete_fields = ("item", "exporter")
    inlines = [ThresholdLevelInline]
    readonly_fields = ("version", "created_at", "updated_at")

    @property
    def media(self):
        return super().media + BADGE_MEDIA

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("levels")

    @admin.display(description="levels")
    def levels_summary(self, rule: ThresholdRule) -> str:
        return ", ".join(str(level) for level in rule.levels.all()) or "-"

    def _is_shared_default(self, request, obj) -> bool:
        return (
            obj is not None
            and obj.organization_id is None
            and not sees_every_organization(request.user)
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return not self._is_shared_default(request, obj) and super().has_change_permission(
            request, obj
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._is_shared_default(request, obj) and super().has_delete_permission(
            request, obj
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "organization" in form.base_fields and not sees_every_organization(request.user):
            # Only superusers write the defaults of every organization.
            form.base_fields["organization"].required = True
        if PREVIEW in request.POST:
            form = type(form.__name__, (form,), {"preview_only": True})
        return form

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        adminform = context.get("adminform")
        if request.method == "POST" and PREVIEW in request.POST and adminform is not None:
            form = adminform.form
            _drop_preview_marker(form)
            formsets = [inline.formset for inline in context.get("inline_admin_formsets", [])]
            context["errors"] = helpers.AdminErrorList(form, formsets)
            if not form.errors and all(formset.is_valid() for formset in formsets):
                context["threshold_preview"] = self._preview(request, form, formsets, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _preview(self, request, form, formsets, obj):
        rule = form.instance  # the form's cleaned values, not saved
        levels = level_inputs(formset_of(formsets, ThresholdLevel))
        proposed = rule_spec(rule, levels=levels) if rule.is_active else None
        return threshold_rule_preview(
            proposed=proposed,
            replaces=obj.pk if obj is not None else None,
            organization_ids=None
            if sees_every_organization(request.user)
            else [rule.organization_id],
        )

    def save_by_service(self, request, form, formsets, change):
        """The services re-evaluate the open applications themselves (on commit)."""
        actor = Actor.for_user(request.user)
        levels_formset = formset_of(formsets, ThresholdLevel)
        levels = level_inputs(levels_formset)
        rule = form.instance
        if not change:
            created = threshold_rule_create(
                organization=form.cleaned_data.get("organization"),
                levels=levels,
                actor=actor,
                **{name: form.cleaned_data[name] for name in RULE_FIELDS if name in form.fields},
            )
            # The admin log and the redirect refer to the row the service created.
            rule.pk = created.pk
            rule._state.adding = False
            return
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in RULE_FIELDS
        }
        levels_changed = levels_formset is not None and levels_formset.has_changed()
        if changes or levels_changed:
            threshold_rule_update(
                rule=ThresholdRule.objects.get(pk=rule.pk),
                actor=actor,
                expected_version=form.cleaned_data.get("expected_version"),
                levels=levels if levels_changed else None,
                **changes,
            )

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        delays_recompute_on_commit()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        delays_recompute_on_commit()


@admin.register(CalendarException)
class CalendarExceptionAdmin(AuditedModelAdmin):
    """Saving an exception re-evaluates the clocks on that country's calendar."""

    list_display = ("date", "country", "is_working_day", "source")
    list_filter = ("country", "is_working_day")
    date_hierarchy = "date"
    search_fields = ("source",)
    readonly_fields = ("created_at", "updated_at")

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


class DelayAlertForm(forms.ModelForm):
    """An alert is read-only; its change page only acknowledges it, with a note."""

    acknowledge = forms.BooleanField(
        required=False, help_text="Mark this alert as seen (kept with your name and the time)."
    )
    note = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )

    class Meta:
        model = DelayAlert
        fields = ()


@admin.register(DelayAlert)
class DelayAlertAdmin(ExportOnlyMixin, OrganizationScopedAdminMixin, AuditedModelAdmin):
    """The alerts queue: open alerts first, by level. Acknowledging calls the service."""

    form = DelayAlertForm
    list_display = (
        "raised_at",
        "level_badge",
        "kind",
        "state_badge",
        "application_link",
        "shipment_link",
        "message",
        "acknowledged",
    )
    list_filter = (
        AlertStateFilter,
        "kind",
        "level",
        ("organization", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("organization", "application__authority", "shipment")
    search_fields = (
        "message",
        "application__authority_reference",
        "application__license_number",
        "shipment__external_reference",
    )
    date_hierarchy = "raised_at"
    list_per_page = 100
    actions = ["acknowledge"]
    readonly_fields = (
        "organization",
        "kind",
        "level",
        "repeat_index",
        "application_link",
        "shipment_link",
        "shipments",
        "wait",
        "rule",
        "escalates",
        "message",
        "raised_at",
        "state_badge",
        "acknowledged_by_label",
        "acknowledged_at",
        "acknowledge_note",
        "resolved_at",
        "resolution",
    )

    @property
    def media(self):
        return super().media + BADGE_MEDIA

    def get_ordering(self, request):
        return (alert_urgency().desc(), "-raised_at")

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if (
            obj is not None
            and obj.acknowledged_at is None
            and self.has_change_permission(request, obj)
        ):
            fields += ["acknowledge", "note"]
        return fields

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("acknowledge"):
            alert_acknowledge(
                alert=obj, actor=Actor.for_user(request.user), note=form.cleaned_data["note"]
            )

    @admin.display(description="level", ordering=alert_urgency().desc())
    def level_badge(self, alert: DelayAlert):
        return delay_badge(alert.level)

    @admin.display(description="state")
    def state_badge(self, alert: DelayAlert):
        return alert_state_badge(alert.state)

    @admin.display(description="application")
    def application_link(self, alert: DelayAlert):
        return admin_link(alert.application)

    @admin.display(description="shipment")
    def shipment_link(self, alert: DelayAlert):
        return admin_link(alert.shipment)

    @admin.display(description="acknowledged by", ordering="acknowledged_at")
    def acknowledged(self, alert: DelayAlert) -> str:
        return alert.acknowledged_by_label or "-"

    @admin.display(description="wait when raised")
    def wait(self, alert: DelayAlert) -> str:
        if alert.wait_elapsed is None:
            return "-"
        return f"{alert.wait_elapsed} {alert.get_wait_unit_display()}"

    @admin.action(description="Acknowledge the selected alerts", permissions=["change"])
    def acknowledge(self, request, queryset):
        actor = Actor.for_user(request.user)

        def acknowledge(alert: DelayAlert) -> str:
            already = alert.acknowledged_at
            acknowledged = alert_acknowledge(alert=alert, actor=actor)
            if already:
                return f"already acknowledged by {acknowledged.acknowledged_by_label}."
            return "acknowledged."

        report_per_row(self, request, queryset, acknowledge)
