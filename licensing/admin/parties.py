"""Organizations (the tenants, with their staff members) and their exporters.

Exporters are created and changed through the same services as the API
(licensing.services.exporters): the version is checked, the change is audited by the service,
and an exporter never moves to another organization (its organization is read-only once it
exists).
"""

from django.contrib import admin

from core.actors import Actor
from core.admin import AuditedModelAdmin
from licensing.admin.actions import ServiceSavesMixin
from licensing.admin.forms import VersionCheckedModelForm
from licensing.admin.scoping import OrganizationScopedAdminMixin
from licensing.models import Exporter, Organization
from licensing.services.exporters import EXPORTER_EDITABLE_FIELDS, exporter_create, exporter_update

DUPLICATE_REGISTRATION = "An exporter with this country and registration number exists."


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdminMixin, AuditedModelAdmin):
    """Members are the staff who see and work this organization's rows in the admin."""

    organization_path = "pk"
    list_display = ("name", "kind", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    filter_horizontal = ("members",)
    readonly_fields = ("created_at", "updated_at")


class ExporterForm(VersionCheckedModelForm):
    """Checks the (organization, country, registration number) uniqueness itself, comparing
    registration keys: the form's own check skips the constraint, whose key is no form field,
    and a duplicate must be a form error rather than a refused save."""

    def validate_unique(self) -> None:
        super().validate_unique()
        exporter = self.instance
        if exporter.organization_id is None:
            return  # the organization field reports its own error
        if self.has_error("country") or self.has_error("registration_number"):
            return
        # The model's clean() has set the registration key (the number as a reader sees it).
        duplicate = (
            Exporter.objects.filter(
                organization_id=exporter.organization_id,
                country=exporter.country,
                registration_key=exporter.registration_key,
            )
            .exclude(pk=exporter.pk)
            .exists()
        )
        if duplicate:
            self.add_error("registration_number", DUPLICATE_REGISTRATION)


@admin.register(Exporter)
class ExporterAdmin(ServiceSavesMixin, OrganizationScopedAdminMixin, AuditedModelAdmin):
    form = ExporterForm
    list_display = ("name", "country", "registration_number", "organization", "contact_name")
    list_filter = ("country", ("organization", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("name", "registration_number")
    readonly_fields = ("version", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")  # an exporter never changes organization
        return readonly

    def save_by_service(self, request, form, formsets, change):
        actor = Actor.for_user(request.user)
        exporter = form.instance
        if not change:
            created = exporter_create(
                organization=form.cleaned_data["organization"],
                actor=actor,
                **{
                    name: form.cleaned_data[name]
                    for name in EXPORTER_EDITABLE_FIELDS
                    if name in form.fields
                },
            )
            # The admin log and the redirect refer to the row the service created.
            exporter.pk = created.pk
            exporter._state.adding = False
            return
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in EXPORTER_EDITABLE_FIELDS
        }
        if changes:
            exporter_update(
                exporter=Exporter.objects.get(pk=exporter.pk),
                actor=actor,
                expected_version=form.cleaned_data.get("expected_version"),
                **changes,
            )
