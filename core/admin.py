"""Admin base classes shared by every model admin of the project, and the audit trail's admin."""

from __future__ import annotations

import copy
import json
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Q, QuerySet
from django.forms import BaseModelFormSet, ModelForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import capfirst

from core.actors import Actor
from core.audit import (
    Action,
    AuditEntry,
    audit_history,
    audit_record,
    audit_record_many,
    audit_recorded_in_request,
    created_changes,
    deleted_changes,
)
from core.models import ObjectChange

HISTORY_PAGE_SIZE = 100


def _model_field_names(model: type[models.Model]) -> set[str]:
    return {field.name for field in model._meta.get_fields() if field.concrete}


def _form_changes(form: ModelForm) -> dict[str, list[Any]]:
    """`{field: [before, after]}` for the model fields the form changed."""
    names = _model_field_names(form._meta.model)
    return {
        name: [form.initial.get(name), form.cleaned_data.get(name)]
        for name in form.changed_data
        if name in names
    }


def requested_action(request: HttpRequest) -> str:
    """The action a changelist POST asks to run ("" for none), read as Django's
    ModelAdmin.changelist_view and response_action read it."""
    if request.method != "POST" or "_save" in request.POST:
        return ""
    if "index" not in request.POST and helpers.ACTION_CHECKBOX_NAME not in request.POST:
        return ""
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    try:
        return request.POST.getlist("action")[index]
    except IndexError:
        return ""


class OfferedActionsOnlyAdmin(admin.ModelAdmin):
    """A changelist POST naming an action the user is not offered is refused with 403.

    Django runs no such action, but answers as if nothing was asked: a user offered no action
    at all (an Auditor) gets the changelist again (200), others a redirect with "No action
    selected". A forged request is refused outright instead, as a forged change form is.
    """

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        action = requested_action(request)
        if action and action not in self.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)


class AuditedModelAdmin(OfferedActionsOnlyAdmin):
    """Base of every ModelAdmin: its "History" page shows the audit trail of the object.

    Saves that go through a service are recorded by the service. Saves the admin makes
    itself (ModelAdmin.save_model, inlines, deletes) are recorded here, as the staff user,
    unless a service already recorded the object under this request's id.
    """

    object_history_template = "admin/audit_history.html"

    # -- recording ------------------------------------------------------------------------------

    def save_form(self, request: HttpRequest, form: ModelForm, change: bool) -> Any:
        # The form still knows the values it was loaded with; keep them for log_change.
        instance = super().save_form(request, form, change)
        instance._audit_changes = _form_changes(form) if change else {}
        return instance

    def save_formset(
        self, request: HttpRequest, form: ModelForm, formset: BaseModelFormSet, change: bool
    ) -> None:
        """Save an inline formset, recording each inline object added, changed or deleted."""
        deleted_forms = set(formset.deleted_forms) if formset.can_delete else set()
        deleted, added, updated = [], [], []
        for inline_form in formset.forms:
            instance = inline_form.instance
            if inline_form in deleted_forms:
                if not instance._state.adding:
                    # Django clears the key on delete: keep a copy that still has it.
                    deleted.append(
                        AuditEntry(copy.copy(instance), Action.DELETE, deleted_changes(instance))
                    )
            elif not inline_form.has_changed():
                continue
            elif instance._state.adding:
                added.append(inline_form)
            else:
                updated.append(AuditEntry(instance, Action.UPDATE, _form_changes(inline_form)))
        super().save_formset(request, form, formset, change)
        parent = form.instance
        entries = [
            *(
                AuditEntry(f.instance, Action.CREATE, created_changes(f.instance), parent)
                for f in added
                if f.instance.pk is not None
            ),
            *(AuditEntry(e.instance, e.action, e.changes, parent) for e in updated if e.changes),
            *(AuditEntry(e.instance, e.action, e.changes, parent) for e in deleted),
        ]
        audit_record_many(actor=Actor.for_user(request.user), entries=entries)

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        if not audit_recorded_in_request(obj):
            audit_record(
                actor=Actor.for_user(request.user),
                instance=obj,
                action=Action.CREATE,
                changes=created_changes(obj),
            )
        return entry

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        changes = getattr(obj, "_audit_changes", None)
        if changes and not audit_recorded_in_request(obj):
            audit_record(
                actor=Actor.for_user(request.user),
                instance=obj,
                action=Action.UPDATE,
                changes=changes,
            )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        # Called before the delete, so the rows still have their keys and values.
        audit_record_many(
            actor=Actor.for_user(request.user),
            entries=[AuditEntry(obj, Action.DELETE, deleted_changes(obj)) for obj in queryset],
        )
        return super().log_deletions(request, queryset)

    # -- history --------------------------------------------------------------------------------

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> Any:
        """The object's audit rows (and its lines', clock stops' and alerts'), newest first.

        Anyone who may view the object may see its history (the Auditor group included).
        """
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        paginator = self.get_paginator(request, audit_history(obj), HISTORY_PAGE_SIZE)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        rows = [_history_row(change, obj) for change in page]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "module_name": capfirst(str(self.opts.verbose_name_plural)),
            "rows": rows,
            "page": page,
            "page_range": paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            "pagination_required": paginator.num_pages > 1,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)


def _field_label(model: type[models.Model] | None, name: str) -> str:
    if model is None:
        return name
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    # Reverse relations ("lines", "levels") and extra keys ("occurred_at") have no verbose name.
    return str(getattr(field, "verbose_name", name.replace("_", " ")))


def _history_row(change: ObjectChange, obj: models.Model) -> dict[str, Any]:
    model = change.content_type.model_class()
    is_self = model is type(obj) and change.object_id == str(obj.pk)
    return {
        "change": change,
        "subject": None
        if is_self
        else f"{model._meta.verbose_name if model else change.content_type}: {change.object_repr}",
        "fields": [
            (_field_label(model, name), values[0], values[1])
            for name, values in change.changes.items()
        ],
    }


@admin.register(ObjectChange)
class ObjectChangeAdmin(OfferedActionsOnlyAdmin):
    """The whole audit trail, read-only for everyone, superusers included."""

    list_display = ("time", "actor_label", "action", "content_type", "object_repr", "request_id")
    list_filter = ("action", "content_type")
    list_select_related = ("content_type",)
    search_fields = ("request_id", "actor_label", "object_repr", "object_id")
    date_hierarchy = "time"
    fields = (
        "time",
        "actor_label",
        "user",
        "request_id",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "parent_content_type",
        "parent_object_id",
        "organization_id",
        "changes_table",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ObjectChange]:
        """Active superusers see every row; other staff their organizations' rows and shared
        data's (rows recorded without an organization).
        """
        # Imported here: core does not depend on licensing when its modules load. The
        # organizations a user acts for are defined once, in licensing.selectors.memberships.
        from licensing.selectors.memberships import member_organization_ids

        queryset = super().get_queryset(request)
        organization_ids = member_organization_ids(request.user)
        if organization_ids is None:
            return queryset
        return queryset.filter(
            Q(organization_id__in=[str(pk) for pk in organization_ids]) | Q(organization_id="")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Changes")
    def changes_table(self, change: ObjectChange) -> str:
        return format_html(
            "<pre>{}</pre>", json.dumps(change.changes, indent=2, ensure_ascii=False)
        )
