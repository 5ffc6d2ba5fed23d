"""What every workflow action of the admin shares: per-row outcomes and intermediate forms.

Actions are thin: each row goes through the same service as the API, in the service's own
transaction, so one refused row never undoes the others. The officer gets one message per
row: what was done, or the service's error text (an invalid transition names the allowed
ones). Intermediate forms post back to the changelist with the same `action` and selection;
a valid form applies the action, an invalid one is shown again with its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse

from core.errors import DomainError
from licensing.admin.display import BADGE_MEDIA
from licensing.admin.forms import RowsForm
from licensing.services.lines import LineInput

APPLY = "apply"


def report_per_row(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    rows: Iterable[Any],
    operation: Callable[[Any], str],
) -> int:
    """Run `operation` on each row; it returns the success text or raises a DomainError.

    Returns how many rows succeeded.
    """
    succeeded = 0
    for row in rows:
        label = str(row)
        try:
            outcome = operation(row)
        except DomainError as error:
            modeladmin.message_user(request, f"{label}: {error.detail}", messages.ERROR)
        else:
            succeeded += 1
            modeladmin.message_user(request, f"{label}: {outcome}", messages.SUCCESS)
    return succeeded


def with_form(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    rows: list[Any],
    *,
    form_class: type[RowsForm],
    title: str,
    submit_label: str,
    apply: Callable[[RowsForm], None],
    intro: str = "",
    initial: dict[str, Any] | None = None,
) -> TemplateResponse | None:
    """Show `form_class` for the selected rows; on a valid submission call `apply(form)`.

    Returns None once applied, which sends the officer back to the changelist (with its
    filters) and its per-row messages.
    """
    if APPLY in request.POST:
        form = form_class(request.POST, rows=rows)
        if form.is_valid():
            apply(form)
            return None
    else:
        form = form_class(rows=rows, initial=initial or {})
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "form": form,
        "rows": rows,
        "opts": opts,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "submit_label": submit_label,
        "media": modeladmin.media + form.media + BADGE_MEDIA,
    }
    return TemplateResponse(
        request,
        [
            f"admin/{opts.app_label}/{opts.model_name}/action_form.html",
            f"admin/{opts.app_label}/action_form.html",
        ],
        context,
    )


class ServiceSavesMixin(admin.ModelAdmin):
    """A change form saved by a service, lines included, in one call.

    The admin validates the form and its inline formsets as usual; `save_by_service(request,
    form, formsets, change)` then writes everything through the service (ModelAdmin's own
    save_model and formset saves are skipped). A DomainError the service raises (a rule the
    form cannot check, such as license coverage) undoes the whole save and comes back as
    an error message on the form, as the API would answer it.
    """

    def save_by_service(self, request, form, formsets, change) -> None:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        """Deferred to save_related, which also has the inlines' lines."""

    def save_related(self, request, form, formsets, change):
        self.save_by_service(request, form, formsets, change)
        for formset in formsets:
            # Nothing was saved through the formsets: the admin's change message lists nothing.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # The view's transaction has rolled back: nothing of this save was kept.
            self.message_user(request, f"Not saved: {error.detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def formset_of(formsets, model) -> Any:
    return next((formset for formset in formsets if formset.model is model), None)


def line_inputs(formset, *, with_value: bool) -> list[LineInput]:
    """The lines a formset holds once saved: kept and new ones, deleted ones left out."""
    lines = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE") or not data.get("item"):
            continue
        extra = {"value": data.get("value"), "currency": data.get("currency") or ""}
        lines.append(
            LineInput(
                item=data["item"],
                quantity=data["quantity"],
                unit=data["unit"],
                **(extra if with_value else {}),
            )
        )
    return lines
