"""The applications queue: the changelist officers work all day, its workflow actions and
the application page with everything that happened to it.

The changelist puts the most urgent first (open applications by delay level, then by
statutory deadline) and shows each row's wait on the authority's clock, computed from
prefetched history: a page costs the same number of queries whatever its length.
Every action calls the same service as the API (licensing.services.applications), row by
row, and reports each row's outcome; actions need the change permission, so auditors are
offered none. Status fields are read-only: statuses change only through the workflow.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import F
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from core.actors import Actor
from core.admin import AuditedModelAdmin
from core.errors import StateConflict
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
    alert_state_badge,
    application_status_badge,
    delay_badge,
    html_list,
    shipment_status_badge,
)
from licensing.admin.filters import (
    ApplicationOpenAlertsFilter,
    MaterialFamilyFilter,
    OverdueFilter,
    ScopedCountryFilter,
)
from licensing.admin.forms import (
    AcceptForm,
    ApproveForm,
    ClockStopForm,
    NoteRequiredTransitionForm,
    TransitionForm,
)
from licensing.admin.imports import ApplicationImportExportMixin
from licensing.admin.scoping import OrganizationScopedAdminMixin, ScopedInlineMixin
from licensing.clock import application_clock
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ClockStop,
    DelayAlert,
    LicenseApplication,
    Shipment,
    StatusChange,
    WebhookDelivery,
)
from licensing.models.applications import PENDING_STATUSES
from licensing.selectors.admin_queues import (
    CLOCK_PREFETCH,
    application_urgency,
    clocks_by_application,
    wait_text,
)
from licensing.services.applications import (
    DRAFT_FIELDS,
    PENDING_FIELDS,
    application_create,
    application_transition,
    application_update,
    clock_stop_record,
)
from licensing.services.delays import alert_acknowledge

Status = ApplicationStatus
# Fields of the add form that application_create takes (the others are set by the workflow).
CREATE_FIELDS = (*DRAFT_FIELDS, "is_escalated", "involves_watch_listed_party")
RECENT_DELIVERIES = 20


# -- inlines -------------------------------------------------------------------------------------


class ApplicationLineInline(ScopedInlineMixin, admin.TabularInline):
    """Lines are the application as filed: editable only while it is a draft."""

    model = ApplicationLine
    classes = ("lic-plain",)
    extra = 0
    fields = ("item", "quantity", "unit", "value", "currency")
    autocomplete_fields = ("item",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item")

    def _is_draft(self, obj) -> bool:
        return obj is None or obj.status == ApplicationStatus.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._is_draft(obj) and super().has_delete_permission(request, obj)


class ReadOnlyInline(admin.TabularInline):
    """A record kept as evidence: shown, never added to, changed or deleted here."""

    classes = ("lic-plain",)
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
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
    ordering = ("occurred_at",)


class ClockStopInline(ReadOnlyInline):
    """Recorded with the "Record a clock stop" action (the same service as the API)."""

    model = ClockStop
    fields = ("kind", "started_on", "ended_on", "note", "actor_label")


class ShipmentInline(ReadOnlyInline):
    """The shipments this application covers (or is meant to)."""

    model = Shipment
    fk_name = "license_application"
    verbose_name_plural = "shipments covered"
    fields = ("shipment", "status_badge", "required_ship_date", "at_risk", "expiring")

    @admin.display(description="shipment")
    def shipment(self, shipment: Shipment):
        return admin_link(shipment)

    @admin.display(description="status")
    def status_badge(self, shipment: Shipment):
        return shipment_status_badge(shipment.status)

    @admin.display(description="license expiring")
    def expiring(self, shipment: Shipment):
        return delay_badge(shipment.license_expiring)


class AlertInlineForm(forms.ModelForm):
    """An alert on the application page; ticking "acknowledge" acknowledges it on save."""

    acknowledge = forms.BooleanField(required=False, label="acknowledge")

    class Meta:
        model = DelayAlert
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        alert = self.instance
        if alert.pk and (alert.acknowledged_at or alert.resolved_at):
            self.fields["acknowledge"].disabled = True


class AlertInline(admin.TabularInline):
    """The application's delay alerts, newest first; open ones can be acknowledged here."""

    model = DelayAlert
    fk_name = "application"
    form = AlertInlineForm
    classes = ("lic-plain",)
    extra = 0
    can_delete = False
    ordering = ("-raised_at",)
    readonly_fields = ("alert", "kind", "level_badge", "state_badge", "raised_at", "acknowledged")

    def get_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if self.has_change_permission(request, obj):
            fields.append("acknowledge")
        return fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="alert")
    def alert(self, alert: DelayAlert):
        return admin_link(alert, alert.message)

    @admin.display(description="level")
    def level_badge(self, alert: DelayAlert):
        return delay_badge(alert.level)

    @admin.display(description="state")
    def state_badge(self, alert: DelayAlert):
        return alert_state_badge(alert.state)

    @admin.display(description="acknowledged by")
    def acknowledged(self, alert: DelayAlert):
        if not alert.acknowledged_at:
            return "-"
        return f"{alert.acknowledged_by_label} at {alert.acknowledged_at:%Y-%m-%d %H:%M}"


# -- the changelist -------------------------------------------------------------------------------


class ApplicationChangeList(ChangeList):
    """Prefetches what each row shows and computes the page's clocks at one instant."""

    def get_queryset(self, request, exclude_parameters=None):
        return (
            super()
            .get_queryset(request, exclude_parameters)
            .prefetch_related(*CLOCK_PREFETCH, "lines__item")
        )

    def get_results(self, request):
        super().get_results(request)
        clocks = clocks_by_application(self.result_list)
        for application in self.result_list:
            application.admin_clock = clocks[application.pk]


def _expected_status(application: LicenseApplication, action: str, *statuses: str) -> None:
    """Two actions share a target status (start review, record the response): say which fits."""
    if application.status in statuses:
        return
    allowed = application.allowed_transitions()
    raise StateConflict(
        f"'{action}' applies to {' or '.join(Status(s).label for s in statuses)} applications; "
        f"this one is '{application.status}'. Allowed from '{application.status}': "
        f"{', '.join(allowed) if allowed else 'none (the status is final)'}."
    )


@admin.register(LicenseApplication)
class LicenseApplicationAdmin(
    ApplicationImportExportMixin, ServiceSavesMixin, OrganizationScopedAdminMixin, AuditedModelAdmin
):
    """The applications queue, most urgent first, with the workflow as actions."""

    list_display = (
        "reference",
        "status_badge",
        "wait",
        "delay",
        "statutory_deadline",
        "expected_decision",
        "exporter",
        "destination_country",
        "items",
        "authority_reference",
    )
    list_filter = (
        "status",
        "delay_level",
        OverdueFilter,
        ApplicationOpenAlertsFilter,
        ("authority", admin.RelatedOnlyFieldListFilter),
        ("exporter", admin.RelatedOnlyFieldListFilter),
        ("destination_country", ScopedCountryFilter),
        MaterialFamilyFilter,
        "license_type",
        ("organization", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("authority", "exporter", "organization")
    search_fields = (
        "authority_reference",
        "license_number",
        "exporter__name",
        "exporter__registration_number",
        "end_user_name",
    )
    search_help_text = (
        "Search by the authority's reference, license number, exporter name or registration "
        "number, or end user."
    )
    date_hierarchy = "clock_started_at"
    list_per_page = 100
    readonly_fields = (
        "status",
        "clock",
        "delay_state",
        "expected_window",
        "submitted_at",
        "accepted_at",
        "clock_started_at",
        "decided_at",
        "license_number",
        "valid_from",
        "valid_until",
        "decision_note",
        "webhook_deliveries",
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
                    "delay_state",
                    "expected_window",
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
        ("Webhook deliveries", {"fields": ("webhook_deliveries",), "classes": ("collapse",)}),
    )
    inlines = [
        ApplicationLineInline,
        StatusChangeInline,
        ClockStopInline,
        AlertInline,
        ShipmentInline,
    ]
    actions = [
        "submit",
        "accept",
        "start_review",
        "request_information",
        "record_response",
        "approve",
        "deny",
        "withdraw",
        "record_clock_stop",
    ]

    @property
    def media(self):
        return super().media + BADGE_MEDIA

    def get_ordering(self, request):
        return (
            application_urgency().desc(),
            F("statutory_deadline").asc(nulls_last=True),
            "clock_started_at",
            "-created_at",
        )

    def get_changelist(self, request, **kwargs):
        return ApplicationChangeList

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly.append("organization")
            if obj.status != ApplicationStatus.DRAFT:
                readonly.extend(DRAFT_FIELDS)
            if obj.status not in PENDING_STATUSES:
                readonly.extend(PENDING_FIELDS)
        return readonly

    # -- saving through the services ----------------------------------------------------------

    def save_by_service(self, request, form, formsets, change):
        """Creation and edits, lines included, go through the same services as the API."""
        actor = Actor.for_user(request.user)
        application = form.instance
        lines_formset = formset_of(formsets, ApplicationLine)
        lines = (
            line_inputs(lines_formset, with_value=True)
            if lines_formset is not None and lines_formset.has_changed()
            else None
        )
        if not change:
            created = application_create(
                organization=form.cleaned_data["organization"],
                actor=actor,
                lines=lines or (),
                **{name: form.cleaned_data[name] for name in CREATE_FIELDS},
            )
            if form.cleaned_data.get("authority_reference"):
                application_update(
                    application=created,
                    actor=actor,
                    authority_reference=form.cleaned_data["authority_reference"],
                )
            # The admin log and the redirect refer to the row the service created.
            application.pk = created.pk
            application._state.adding = False
        else:
            changes = {
                field: form.cleaned_data[field]
                for field in form.changed_data
                if field in (*DRAFT_FIELDS, *PENDING_FIELDS)
            }
            if changes or lines is not None:
                application_update(
                    application=LicenseApplication.objects.get(pk=application.pk),
                    actor=actor,
                    lines=lines,
                    **changes,
                )
        alerts_formset = formset_of(formsets, DelayAlert)
        for alert_form in alerts_formset.forms if alerts_formset is not None else ():
            if alert_form.cleaned_data.get("acknowledge"):
                alert_acknowledge(alert=alert_form.instance, actor=actor)
                self.message_user(
                    request, f"Alert acknowledged: {alert_form.instance}", messages.SUCCESS
                )

    # -- columns ------------------------------------------------------------------------------

    @admin.display(description="application", ordering="authority_reference")
    def reference(self, application: LicenseApplication) -> str:
        return str(application)

    @admin.display(description="status", ordering="status")
    def status_badge(self, application: LicenseApplication):
        return application_status_badge(application.status)

    @admin.display(description="wait", ordering="clock_started_at")
    def wait(self, application: LicenseApplication):
        clock = getattr(application, "admin_clock", None)
        text = wait_text(clock)
        if not text:
            return "-"
        paused = f" ({clock.paused_days} paused)" if clock.paused_days else ""
        return format_html('<span class="lic-wait">{}<small>{}</small></span>', text, paused)

    @admin.display(description="delay level", ordering=application_urgency().desc())
    def delay(self, application: LicenseApplication):
        if application.status not in PENDING_STATUSES:
            return "-"  # decided: the wait is over
        return delay_badge(application.delay_level)

    @admin.display(description="expected decision", ordering="expected_decision_p50")
    def expected_decision(self, application: LicenseApplication):
        p50, p90 = application.expected_decision_p50, application.expected_decision_p90
        if not p50:
            return "-"
        return format_html(
            '<span title="Half of comparable past cases were decided by the first date, '
            '9 in 10 by the second.">{} &ndash; {}</span>',
            p50,
            p90 or p50,
        )

    @admin.display(description="items")
    def items(self, application: LicenseApplication):
        return html_list(
            f"{line.item.control_code} {line.quantity.normalize():f} {line.unit}"
            for line in application.lines.all()
        )

    # -- the change page ----------------------------------------------------------------------

    @admin.display(description="Authority's clock")
    def clock(self, obj: LicenseApplication) -> str:
        if obj.pk is None:
            return "-"
        clock = application_clock(obj)
        if clock.clock_started_at is None:
            return "Not started"
        deadline = clock.statutory_deadline or "none (escalated or watch-listed party)"
        return format_html(
            "{} elapsed ({} paused); statutory deadline {}{}",
            wait_text(clock),
            clock.paused_days,
            deadline,
            "" if clock.is_running else "; clock stopped by the decision",
        )

    @admin.display(description="Delay level")
    def delay_state(self, obj: LicenseApplication):
        if obj.pk is None:
            return "-"
        upcoming = ""
        if obj.next_threshold_on:
            upcoming = (
                format_html("; raised again on {}", obj.next_threshold_on)
                if obj.next_threshold_level == obj.delay_level
                else format_html(
                    "; {} from {}", obj.get_next_threshold_level_display(), obj.next_threshold_on
                )
            )
        return format_html("{}{}", delay_badge(obj.delay_level), upcoming)

    @admin.display(description="Expected decision")
    def expected_window(self, obj: LicenseApplication) -> str:
        if not obj.expected_decision_p50:
            return "-"
        basis = f" — {obj.expected_decision_basis}" if obj.expected_decision_basis else ""
        return (
            f"around {obj.expected_decision_p50}, by {obj.expected_decision_p90} at the latest "
            f"in 9 of 10 past cases (sample of {obj.expected_decision_sample_size}){basis}"
        )

    @admin.display(description="Recent deliveries")
    def webhook_deliveries(self, obj: LicenseApplication):
        """The latest webhook deliveries of events about this application, in one query.

        Events carry the application in their payload (`data.application.id`); no foreign
        key links them, so this reads the payload.
        """
        if obj.pk is None:
            return "-"
        deliveries = list(
            WebhookDelivery.objects.filter(event__payload__data__application__id=str(obj.pk))
            .select_related("endpoint", "event")
            .order_by("-created_at")[:RECENT_DELIVERIES]
        )
        if not deliveries:
            return "No webhook deliveries about this application."
        rows = mark_safe("").join(
            format_html(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f"{delivery.created_at:%Y-%m-%d %H:%M}",
                delivery.event.type,
                delivery.endpoint.url,
                admin_link(delivery, delivery.get_status_display()),
                delivery.last_status_code or delivery.last_error or "-",
            )
            for delivery in deliveries
        )
        return format_html(
            '<table class="lic-deliveries"><thead><tr><th>created</th><th>event</th>'
            "<th>endpoint</th><th>status</th><th>last answer</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    # -- workflow actions ---------------------------------------------------------------------

    def _transition_rows(
        self, request, queryset, *, to_status: str, done: str, fields=None, expect=None, **kwargs
    ) -> None:
        actor = Actor.for_user(request.user)

        def move(application: LicenseApplication) -> str:
            if expect:
                _expected_status(application, expect[0], *expect[1:])
            application_transition(
                application=application,
                to_status=to_status,
                actor=actor,
                **kwargs,
                **(fields(application) if fields else {}),
            )
            return done

        report_per_row(self, request, queryset, move)

    @admin.action(description="Submit to the authority", permissions=["change"])
    def submit(self, request, queryset):
        self._transition_rows(request, queryset, to_status=Status.SUBMITTED, done="submitted.")

    @admin.action(
        description="Record the acceptance (authority's reference)", permissions=["change"]
    )
    def accept(self, request, queryset):
        rows = list(queryset)

        def apply(form: AcceptForm) -> None:
            self._transition_rows(
                request,
                rows,
                to_status=Status.ACCEPTED,
                done="accepted.",
                occurred_at=form.cleaned_data["occurred_at"],
                fields=lambda row: {"authority_reference": form.reference_for(row)},
            )

        return with_form(
            self,
            request,
            rows,
            form_class=AcceptForm,
            title="Record the acceptance",
            submit_label="Accept",
            intro="Acceptance starts the statutory clock of authorities that count from it.",
            apply=apply,
        )

    @admin.action(description="Start the review", permissions=["change"])
    def start_review(self, request, queryset):
        self._transition_rows(
            request,
            queryset,
            to_status=Status.UNDER_REVIEW,
            done="under review.",
            expect=("Start the review", Status.ACCEPTED),
        )

    def _transition_with_form(
        self, request, queryset, *, to_status, done, title, submit_label, form_class, expect=None
    ):
        rows = list(queryset)

        def apply(form: TransitionForm) -> None:
            self._transition_rows(
                request,
                rows,
                to_status=to_status,
                done=done,
                expect=expect,
                occurred_at=form.cleaned_data["occurred_at"],
                note=form.cleaned_data["note"],
            )

        return with_form(
            self,
            request,
            rows,
            form_class=form_class,
            title=title,
            submit_label=submit_label,
            apply=apply,
        )

    @admin.action(description="Request information (pauses the clock)", permissions=["change"])
    def request_information(self, request, queryset):
        return self._transition_with_form(
            request,
            queryset,
            to_status=Status.INFO_REQUESTED,
            done="information requested; the clock is paused.",
            title="Record the authority's request for information",
            submit_label="Record the request",
            form_class=NoteRequiredTransitionForm,
        )

    @admin.action(description="Record the response (review resumes)", permissions=["change"])
    def record_response(self, request, queryset):
        return self._transition_with_form(
            request,
            queryset,
            to_status=Status.UNDER_REVIEW,
            done="response recorded; the review resumes.",
            title="Record the exporter's response",
            submit_label="Record the response",
            form_class=TransitionForm,
            expect=("Record the response", Status.INFO_REQUESTED),
        )

    @admin.action(description="Approve (license number and validity)", permissions=["change"])
    def approve(self, request, queryset):
        rows = list(queryset)
        if len(rows) != 1:
            self.message_user(
                request,
                f"Approve one application at a time: each license has its own number and "
                f"validity ({len(rows)} selected).",
                messages.WARNING,
            )
            return None

        def apply(form: ApproveForm) -> None:
            data = form.cleaned_data
            self._transition_rows(
                request,
                rows,
                to_status=Status.APPROVED,
                done=f"approved, license {data['license_number']} valid "
                f"{data['valid_from']} to {data['valid_until']}.",
                occurred_at=data["decided_at"],
                note=data["note"],
                license_number=data["license_number"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
            )

        return with_form(
            self,
            request,
            rows,
            form_class=ApproveForm,
            title="Approve: the license as issued",
            submit_label="Approve",
            apply=apply,
        )

    @admin.action(description="Deny", permissions=["change"])
    def deny(self, request, queryset):
        return self._transition_with_form(
            request,
            queryset,
            to_status=Status.DENIED,
            done="denied.",
            title="Record the denial",
            submit_label="Deny",
            form_class=NoteRequiredTransitionForm,
        )

    @admin.action(description="Withdraw", permissions=["change"])
    def withdraw(self, request, queryset):
        return self._transition_with_form(
            request,
            queryset,
            to_status=Status.WITHDRAWN,
            done="withdrawn.",
            title="Withdraw the applications",
            submit_label="Withdraw",
            form_class=TransitionForm,
        )

    @admin.action(description="Record a clock stop", permissions=["change"])
    def record_clock_stop(self, request, queryset):
        rows = list(queryset)
        actor = Actor.for_user(request.user)

        def apply(form: ClockStopForm) -> None:
            data = form.cleaned_data

            def record(application: LicenseApplication) -> str:
                stop = clock_stop_record(
                    application=application,
                    actor=actor,
                    kind=data["kind"],
                    started_on=data["started_on"],
                    ended_on=data["ended_on"],
                    note=data["note"],
                )
                return f"clock stop recorded ({stop})."

            report_per_row(self, request, rows, record)

        return with_form(
            self,
            request,
            rows,
            form_class=ClockStopForm,
            title="Record a clock stop",
            submit_label="Record the clock stop",
            intro="Expert review, on-site verification and technical identification do not "
            "count towards the statutory deadline (Art. 17).",
            apply=apply,
        )
