"""Webhook endpoints and their delivery log, for staff: why an endpoint was disabled, every attempt."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from core.actors import Actor
from core.admin import AuditedModelAdmin
from core.errors import FieldErrors
from core.webhooks.ssrf import TargetError, check_url
from licensing.admin.actions import report_per_row
from licensing.admin.scoping import OrganizationScopedAdminMixin
from licensing.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from licensing.services.webhooks import (
    event_types_checked,
    webhook_delivery_redeliver,
    webhook_endpoint_create,
    webhook_endpoint_update,
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "url", "description", "event_types", "is_active")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except TargetError as error:
            raise ValidationError(error.detail) from None
        return url

    def clean_event_types(self) -> list[str]:
        """Blank means every event; otherwise a list of known event types, as the API takes."""
        try:
            return event_types_checked(self.cleaned_data.get("event_types") or [])
        except FieldErrors as error:
            raise ValidationError(" ".join(error.errors["/event_types"])) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OrganizationScopedAdminMixin, AuditedModelAdmin):
    """Saves go through the services: the URL is checked against internal addresses there.

    The secret is never shown here; a new endpoint's secret is shown once, in a message.
    """

    list_display = (
        "url",
        "organization",
        "is_active",
        "disabled_reason",
        "consecutive_failures",
        "failing_since",
        "created_at",
    )
    list_filter = ("is_active", ("organization", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("url", "description", "disabled_reason")
    form = WebhookEndpointForm
    fields = (
        "organization",
        "url",
        "description",
        "event_types",
        "is_active",
        "disabled_reason",
        "disabled_at",
        "consecutive_failures",
        "failing_since",
        "next_sequence",
        "previous_secret_expires_at",
        "version",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "disabled_reason",
        "disabled_at",
        "consecutive_failures",
        "failing_since",
        "next_sequence",
        "previous_secret_expires_at",
        "version",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "organization") if obj else self.readonly_fields

    def has_add_permission(self, request):
        """Adding shows the new signing secret: it needs the change permission too, as the
        API's create and rotate-secret do (only who may change an endpoint sees its secret)."""
        return super().has_add_permission(request) and self.has_change_permission(request)

    def save_model(self, request, obj, form, change):
        actor = Actor.for_user(request.user)
        data = {name: form.cleaned_data[name] for name in ("url", "description", "event_types")}
        data["is_active"] = form.cleaned_data["is_active"]
        if change:
            webhook_endpoint_update(endpoint=obj, actor=actor, **data)
            return
        created = webhook_endpoint_create(
            organization=form.cleaned_data["organization"], actor=actor, **data
        )
        obj.pk = created.pk
        self.message_user(
            request,
            f"The signing secret of this endpoint, shown only now: {created.secret}",
            messages.WARNING,
        )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("started_at", "duration_ms", "status_code", "error", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OrganizationScopedAdminMixin, AuditedModelAdmin):
    """The delivery log: each delivery with its attempts. Redeliver sends one again."""

    list_display = (
        "created_at",
        "endpoint",
        "event_type",
        "sequence",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    organization_path = "endpoint__organization"
    list_filter = (
        "status",
        "event__type",
        ("endpoint__organization", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("endpoint", "event")
    search_fields = ("webhook_id", "endpoint__url")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.display(description="event")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request) -> bool:
        """Redelivery writes (a new round of attempts): staff who may change deliveries only."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        actor = Actor.for_user(request.user)

        def redeliver(delivery: WebhookDelivery) -> str:
            webhook_delivery_redeliver(delivery=delivery, actor=actor)
            return "queued again."

        report_per_row(self, request, queryset, redeliver)
