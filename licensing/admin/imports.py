"""Import and export in the admin (django-import-export), through the same services as the API.

Import is two steps: the upload runs a dry run (the services inside a rolled-back
transaction) and shows a preview, or every row error with its row number and column; the
confirm button appears only when no row failed. The confirmed import runs again in one
transaction and is refused, with nothing written, if any row fails by then.

Permissions: importing needs the add permission on the model (Compliance officers);
exporting needs the view permission (Auditors too: they may read every row they can see).
Exports contain the changelist's rows with its current filters and search, within the
user's organizations.

The confirm step names its upload by a signed token bound to the user who uploaded it, not
by a file name: a posted name is never opened, so no one can have another file (or another
user's pending upload) read, imported or deleted by editing the hidden field.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.resources import modelresource_factory
from import_export.tmp_storages import TempFolderStorage

from core.actors import Actor
from core.csp import CSP_HEADER, content_security_policy
from licensing.imports import (
    EXPORT_FORMATS,
    EXPORT_RESOURCES,
    IMPORT_FORMATS,
    MAX_IMPORT_FILE_BYTES,
    ApplicationImportResource,
    ImportFileError,
    SafeExportResource,
    ShipmentImportResource,
)
from licensing.models import Organization
from licensing.selectors.memberships import scope_to_member_organizations

# An upload waits for its confirmation at most this long; the token expires with it.
UPLOAD_CONFIRM_MAX_AGE_SECONDS = 2 * 60 * 60
_UPLOAD_SIGNING_NAMESPACE = "licensing.admin.imports.upload"
_STORED_UPLOAD_NAME = re.compile(r"[0-9a-f]{32}")
_FOREIGN_UPLOAD_MESSAGE = (
    "This confirmation does not belong to a file you uploaded, or it has expired. "
    "Nothing was imported; upload the file again."
)


class ForeignUpload(Exception):
    """The confirm step named an upload that is not this user's own; the message is for them."""


class ImportUploadStorage(TempFolderStorage):
    """Uploads awaiting confirmation, each in its own randomly named file in a private folder.

    Only names this storage made (32 hex digits) are opened, so a name can never reach
    another file of the temp directory, whatever the caller passes.
    """

    @staticmethod
    def folder() -> Path:
        return Path(tempfile.gettempdir()) / "licensing-import-uploads"

    def get_full_path(self) -> str:
        if not isinstance(self.name, str) or not _STORED_UPLOAD_NAME.fullmatch(self.name):
            raise ForeignUpload(_FOREIGN_UPLOAD_MESSAGE)
        return str(self.folder() / self.name)

    def save(self, data: bytes) -> None:
        folder = self.folder()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.stat().st_uid != os.getuid():
            # Another account made the folder first (a shared /tmp): it could read the uploads.
            raise RuntimeError(f"{folder} belongs to another user; remove it and retry.")
        folder.chmod(0o700)
        self.name = secrets.token_hex(16)
        with open(self.get_full_path(), "xb") as file:  # "x": never overwrite another upload
            file.write(data)

    def read(self) -> Any:
        with open(self.get_full_path(), self.read_mode, encoding=self.encoding) as file:
            return file.read()

    def remove(self) -> None:
        os.remove(self.get_full_path())


def upload_token(*, user_pk: Any, stored_name: str) -> str:
    """The confirm step's reference to an upload: signed, bound to its uploader, expiring."""
    return signing.dumps(
        {"user": str(user_pk), "upload": stored_name}, salt=_UPLOAD_SIGNING_NAMESPACE
    )


def upload_name_from_token(token: str, *, user_pk: Any) -> str:
    """The stored name of the upload `token` refers to, if `user_pk` uploaded it; else ForeignUpload."""
    try:
        claims = signing.loads(
            token, salt=_UPLOAD_SIGNING_NAMESPACE, max_age=UPLOAD_CONFIRM_MAX_AGE_SECONDS
        )
    except signing.BadSignature:  # tampered, forged or expired
        raise ForeignUpload(_FOREIGN_UPLOAD_MESSAGE) from None
    if not isinstance(claims, dict) or claims.get("user") != str(user_pk):
        raise ForeignUpload(_FOREIGN_UPLOAD_MESSAGE)
    stored_name = claims.get("upload")
    if not isinstance(stored_name, str) or not _STORED_UPLOAD_NAME.fullmatch(stored_name):
        raise ForeignUpload(_FOREIGN_UPLOAD_MESSAGE)
    return stored_name


def importable_organizations(request: HttpRequest) -> QuerySet[Organization]:
    """The organizations the user may import rows into: all for superusers, else their own."""
    return scope_to_member_organizations(Organization.objects.order_by("name"), request.user, "pk")


class OrganizationImportForm(ImportForm):
    """The upload form, with the organization the rows will belong to."""

    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        help_text="The organization the imported rows belong to.",
    )
    field_order = ["organization", "resource", "import_file", "format"]

    def __init__(self, formats, resources, *, organizations: QuerySet[Organization], **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.organizations = list(organizations)
        self.fields["organization"].queryset = organizations
        if len(self.organizations) == 1:
            self.fields["organization"].initial = self.organizations[0].pk

    def clean_organization(self) -> Organization:
        chosen = self.cleaned_data.get("organization")
        if chosen is not None:
            return chosen
        if not self.organizations:
            raise forms.ValidationError(
                "You are not a member of any organization, so you cannot import rows."
            )
        if len(self.organizations) > 1:
            raise forms.ValidationError("Choose the organization the rows belong to.")
        return self.organizations[0]

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if upload.size > MAX_IMPORT_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size // 1024} KB; at most "
                f"{MAX_IMPORT_FILE_BYTES // (1024 * 1024)} MB can be imported at once."
            )
        return upload


class OrganizationConfirmImportForm(ConfirmImportForm):
    """The confirm step carries the organization, checked again against the user's own, and
    the upload as a token signed for this user (see `upload_token`)."""

    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), widget=forms.HiddenInput
    )

    def __init__(self, *, organizations: QuerySet[Organization], user_pk: Any, **kwargs):
        super().__init__(**kwargs)
        self.fields["organization"].queryset = organizations
        self.user_pk = user_pk

    def clean_import_file_name(self) -> str:
        """The stored name the token names; ForeignUpload (not a form error) for anything else,
        so the page never offers to confirm a refused upload again."""
        return upload_name_from_token(self.cleaned_data["import_file_name"], user_pk=self.user_pk)


class _ExportPagePolicyMixin:
    """The export form under the CSP: its "Select all" box calls an inline onchange (the
    library's template), allowed by its hash on this page's response and nowhere else."""

    def export_action(self, request, *args, **kwargs):
        response = super().export_action(request, *args, **kwargs)
        response[CSP_HEADER] = content_security_policy(
            inline_handlers=("onSelectToggleChange(event)",)
        )
        return response


class _ServiceImportMixin(_ExportPagePolicyMixin, ImportExportMixin):
    """Shared import/export wiring; subclasses name `import_resource_class`."""

    import_resource_class: type = ApplicationImportResource
    import_template_name = "admin/import_export/licensing_import.html"
    import_form_class = OrganizationImportForm
    confirm_form_class = OrganizationConfirmImportForm
    tmp_storage_class = ImportUploadStorage
    # The user sees each error's message, never a traceback or the raw row.
    import_error_display = ("message",)

    @property
    def import_formats(self):
        return IMPORT_FORMATS

    @property
    def export_formats(self):
        return EXPORT_FORMATS

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_import_resource_classes(self, request):
        return [self.import_resource_class]

    def get_export_resource_classes(self, request):
        return [EXPORT_RESOURCES[self.model]]

    def get_import_form_kwargs(self, request):
        return {
            **super().get_import_form_kwargs(request),
            "organizations": importable_organizations(request),
        }

    def get_confirm_form_kwargs(self, request, import_form=None):
        return {
            **super().get_confirm_form_kwargs(request, import_form),
            "organizations": importable_organizations(request),
            "user_pk": request.user.pk,
        }

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["organization"] = import_form.cleaned_data["organization"].pk
            initial["import_file_name"] = upload_token(
                user_pk=request.user.pk, stored_name=initial["import_file_name"]
            )
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {"organization": cleaned.get("organization"), "actor": Actor.for_user(request.user)}

    def get_import_data_kwargs(self, **kwargs):
        """All or nothing: one transaction, rolled back when any row fails validation."""
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs.update(use_transactions=True, rollback_on_validation_errors=True)
        return kwargs

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, ImportFileError):
            message = str(e)
        elif isinstance(e, UnicodeDecodeError):
            message = (
                "The file is not UTF-8 text. Save it as 'CSV UTF-8' or upload an .xlsx workbook."
            )
        else:
            message = (
                "The file could not be read as the chosen format. Upload a CSV (UTF-8) or an "
                ".xlsx workbook, and choose its format."
            )
        form.add_error("import_file", message)

    def import_action(self, request, **kwargs):
        """The upload and dry run; an upload that cannot be confirmed is not kept on disk."""
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        form = context.get("form")
        upload = getattr(form, "cleaned_data", {}).get("import_file")
        stored_name = getattr(upload, "tmp_storage_name", None)
        if stored_name and not context.get("confirm_form"):
            with contextlib.suppress(OSError):
                self.get_tmp_storage_class()(
                    name=stored_name, **self.get_tmp_storage_class_kwargs()
                ).remove()
        return response

    def process_import(self, request, **kwargs):
        """The confirm step, refused politely when its token is not this user's upload, or
        its upload is no longer readable (confirmed twice, expired, or a tampered format)."""
        try:
            return super().process_import(request, **kwargs)
        except ForeignUpload as refusal:
            messages.error(request, str(refusal))
        except (OSError, ValueError, IndexError, ImportFileError):
            messages.error(
                request,
                "The uploaded file is no longer available. Nothing was imported; upload it again.",
            )
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        )

    def process_result(self, result, request):
        """Refuse the confirmed import when a row failed: the transaction was rolled back."""
        if result.has_errors() or result.has_validation_errors():
            messages.error(
                request,
                "Nothing was imported: some rows failed when the import was confirmed. "
                "Correct them and upload the file again.",
            )
            context = {
                **self.admin_site.each_context(request),
                "title": "Import",
                "opts": self.model._meta,
                "result": result,
                "import_error_display": self.import_error_display,
                "form": None,
            }
            return TemplateResponse(request, [self.import_template_name], context, status=400)
        return super().process_result(result, request)

    def get_export_queryset(self, request: HttpRequest) -> QuerySet:
        # The changelist's own queryset is scoped already when the ModelAdmin is; this keeps
        # exports scoped even for a ModelAdmin that is not.
        return scope_to_member_organizations(
            super().get_export_queryset(request), request.user, "organization"
        )


class ApplicationImportExportMixin(_ServiceImportMixin, admin.ModelAdmin):
    """Import applications from CSV/XLSX (dry-run preview first) and export the filtered changelist."""

    import_resource_class = ApplicationImportResource


class ShipmentImportExportMixin(_ServiceImportMixin, admin.ModelAdmin):
    """Import shipments from CSV/XLSX (dry-run preview first) and export the filtered changelist."""

    import_resource_class = ShipmentImportResource


class ExportOnlyMixin(_ExportPagePolicyMixin, ExportMixin, admin.ModelAdmin):
    """Export the filtered changelist (alerts and other read-mostly models).

    Rows are limited to the user's organizations when the model has an `organization`.
    """

    @property
    def export_formats(self):
        return EXPORT_FORMATS

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_export_resource_classes(self, request):
        if self.model in EXPORT_RESOURCES:
            return [EXPORT_RESOURCES[self.model]]
        return [modelresource_factory(self.model, resource_class=SafeExportResource)]

    def get_export_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_export_queryset(request)
        if any(field.name == "organization" for field in self.model._meta.get_fields()):
            queryset = scope_to_member_organizations(queryset, request.user, "organization")
        return queryset
