"""Workflow actions through the admin, as an officer clicks them: the action bar, the
intermediate form, and the per-row messages on the changelist they come back to."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from licensing.models import (
    AlertKind,
    ApplicationStatus,
    ClockStop,
    DelayAlert,
    DelayLevel,
    LicenseApplication,
    Shipment,
    ShipmentStatus,
    StatusChange,
)
from tests.admin.conftest import (
    change_form_data,
    change_url,
    messages_of,
    post_action,
)
from tests.factories import application_in_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_status(organization, exporter, dysprosium):
    def make(status: str, **kwargs) -> LicenseApplication:
        return application_in_status(
            status,
            organization=organization,
            exporter=exporter,
            line__item=dysprosium,
            **kwargs,
        )

    return make


def _status(application) -> str:
    application.refresh_from_db()
    return application.status


def test_submit_reports_each_row_and_names_the_allowed_transitions(
    officer_client, officer, in_status
):
    draft = in_status(ApplicationStatus.DRAFT)
    accepted = in_status(ApplicationStatus.ACCEPTED)

    response = post_action(officer_client, LicenseApplication, "submit", [draft, accepted])

    assert _status(draft) == ApplicationStatus.SUBMITTED
    assert _status(accepted) == ApplicationStatus.ACCEPTED
    texts = messages_of(officer_client.get(response["Location"]))
    assert f"{draft}: submitted." in texts
    assert (
        f"{accepted}: Cannot move from 'accepted' to 'submitted'. Allowed from 'accepted': "
        "under_review, withdrawn." in texts
    )
    change = draft.status_changes.get(to_status=ApplicationStatus.SUBMITTED)
    assert change.actor == officer
    assert change.actor_label == f"user:{officer.username}"


def test_approve_shows_the_license_form_then_approves(officer_client, in_status):
    # Accepted about 100 days ago: overdue, so it is in the filtered changelist.
    application = in_status(
        ApplicationStatus.UNDER_REVIEW, first_step_at=timezone.now() - dt.timedelta(days=100)
    )

    page = post_action(
        officer_client, LicenseApplication, "approve", [application], query="overdue=yes"
    )

    assert page.status_code == 200
    html = page.content.decode()
    for name in ("license_number", "valid_from", "valid_until"):
        assert f'name="{name}"' in html
    assert '<input type="submit" name="apply" value="Approve"' in html
    assert _status(application) == ApplicationStatus.UNDER_REVIEW  # nothing done yet

    done = post_action(
        officer_client,
        LicenseApplication,
        "approve",
        [application],
        query="overdue=yes",
        apply="Approve",
        license_number="LIC-2026-0042",
        valid_from="2026-01-01",
        valid_until="2026-12-31",
    )

    assert done.status_code == 302
    assert done["Location"].endswith("?overdue=yes")
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.license_number == "LIC-2026-0042"
    assert (application.valid_from, application.valid_until) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 12, 31),
    )
    assert application.decided_at is not None
    assert application.delay_level == DelayLevel.NONE
    back = officer_client.get(done["Location"])
    assert any("approved, license LIC-2026-0042" in text for text in messages_of(back))
    assert application not in back.context["cl"].result_list  # it left the overdue list


def test_approve_refuses_an_invalid_form_and_more_than_one_row(officer_client, in_status):
    first = in_status(ApplicationStatus.UNDER_REVIEW)
    second = in_status(ApplicationStatus.UNDER_REVIEW)

    page = post_action(
        officer_client,
        LicenseApplication,
        "approve",
        [first],
        apply="Approve",
        license_number="LIC-1",
        valid_from="2026-12-31",
        valid_until="2026-01-01",
    )
    assert page.status_code == 200
    assert "cannot precede the first" in page.content.decode()
    assert _status(first) == ApplicationStatus.UNDER_REVIEW

    both = post_action(officer_client, LicenseApplication, "approve", [first, second])
    assert both.status_code == 302
    assert any(
        "Approve one application at a time" in t
        for t in messages_of(officer_client.get(both["Location"]))
    )
    assert _status(first) == _status(second) == ApplicationStatus.UNDER_REVIEW


def test_approving_a_draft_names_what_is_allowed(officer_client, in_status):
    draft = in_status(ApplicationStatus.DRAFT)

    response = post_action(
        officer_client,
        LicenseApplication,
        "approve",
        [draft],
        apply="Approve",
        license_number="LIC-1",
        valid_from="2026-01-01",
        valid_until="2026-12-31",
    )

    texts = messages_of(officer_client.get(response["Location"]))
    assert texts == [
        f"{draft}: Cannot move from 'draft' to 'approved'. Allowed from 'draft': "
        "submitted, withdrawn."
    ]
    assert _status(draft) == ApplicationStatus.DRAFT


def test_accept_asks_each_applications_reference_and_starts_the_clock(officer_client, in_status):
    submitted = in_status(ApplicationStatus.SUBMITTED)

    page = post_action(officer_client, LicenseApplication, "accept", [submitted])
    assert f'name="authority_reference_{submitted.pk}"' in page.content.decode()

    post_action(
        officer_client,
        LicenseApplication,
        "accept",
        [submitted],
        apply="Accept",
        **{f"authority_reference_{submitted.pk}": "MOFCOM-2026-7"},
    )

    submitted.refresh_from_db()
    assert submitted.status == ApplicationStatus.ACCEPTED
    assert submitted.authority_reference == "MOFCOM-2026-7"
    assert submitted.clock_started_at is not None


def test_information_request_and_response_pause_and_resume_the_review(officer_client, in_status):
    application = in_status(ApplicationStatus.UNDER_REVIEW)

    missing_note = post_action(
        officer_client, LicenseApplication, "request_information", [application], apply="x"
    )
    assert missing_note.status_code == 200  # the note is required: the form is shown again
    post_action(
        officer_client,
        LicenseApplication,
        "request_information",
        [application],
        apply="Record the request",
        note="End-user certificate missing.",
    )
    assert _status(application) == ApplicationStatus.INFO_REQUESTED
    assert application.status_changes.last().note == "End-user certificate missing."

    # "Start the review" is for accepted applications; this one waits for a response.
    refused = post_action(officer_client, LicenseApplication, "start_review", [application])
    refusal = messages_of(officer_client.get(refused["Location"]))[-1]
    assert "'Start the review' applies to accepted applications" in refusal
    assert "Allowed from 'info_requested': under_review, withdrawn." in refusal

    post_action(
        officer_client, LicenseApplication, "record_response", [application], apply="Record"
    )
    assert _status(application) == ApplicationStatus.UNDER_REVIEW


def test_deny_and_withdraw(officer_client, in_status):
    reviewed = in_status(ApplicationStatus.UNDER_REVIEW)
    draft = in_status(ApplicationStatus.DRAFT)

    post_action(
        officer_client,
        LicenseApplication,
        "deny",
        [reviewed],
        apply="Deny",
        note="End use not credible.",
    )
    post_action(officer_client, LicenseApplication, "withdraw", [draft], apply="Withdraw")

    reviewed.refresh_from_db()
    assert reviewed.status == ApplicationStatus.DENIED
    assert reviewed.decision_note == "End use not credible."
    assert _status(draft) == ApplicationStatus.WITHDRAWN


def test_record_a_clock_stop(officer_client, officer, in_status):
    application = in_status(ApplicationStatus.UNDER_REVIEW)
    started = timezone.localdate() - dt.timedelta(days=5)

    post_action(
        officer_client,
        LicenseApplication,
        "record_clock_stop",
        [application],
        apply="Record",
        kind="expert_review",
        started_on=started.isoformat(),
        ended_on=(started + dt.timedelta(days=2)).isoformat(),
        note="Expert panel.",
    )

    stop = ClockStop.objects.get(application=application)
    assert (stop.kind, stop.started_on, stop.note) == ("expert_review", started, "Expert panel.")
    assert stop.actor_label == f"user:{officer.username}"


def _alert(application, level=DelayLevel.WARNING) -> DelayAlert:
    return DelayAlert.objects.create(
        organization=application.organization,
        kind=AlertKind.DELAY_LEVEL,
        level=level,
        application=application,
        message=f"{application}: {level}",
        raised_at=timezone.now(),
    )


def test_acknowledge_alerts_from_the_alerts_queue(officer_client, officer, in_status):
    application = in_status(ApplicationStatus.UNDER_REVIEW)
    alerts = [_alert(application, DelayLevel.WARNING), _alert(application, DelayLevel.CRITICAL)]

    response = post_action(officer_client, DelayAlert, "acknowledge", alerts)

    texts = messages_of(officer_client.get(response["Location"]))
    assert sorted(texts) == sorted(f"{alert}: acknowledged." for alert in alerts)
    for alert in alerts:
        alert.refresh_from_db()
        assert alert.acknowledged_by == officer
        assert alert.state == "acknowledged"


def test_acknowledge_an_alert_from_the_application_page(officer_client, officer, in_status):
    application = in_status(ApplicationStatus.UNDER_REVIEW)
    alert = _alert(application)
    page = officer_client.get(change_url(application))
    assert alert.message in page.content.decode()
    data = change_form_data(page)
    prefix = next(
        inline.formset.prefix
        for inline in page.context["inline_admin_formsets"]
        if inline.formset.model is DelayAlert
    )
    data[f"{prefix}-0-acknowledge"] = "on"
    data["_continue"] = "Save and continue editing"

    response = officer_client.post(change_url(application), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    alert.refresh_from_db()
    assert alert.acknowledged_by == officer
    application.refresh_from_db()
    assert application.status == ApplicationStatus.UNDER_REVIEW


def test_shipment_actions_go_through_the_shipment_workflow(officer_client, in_status):
    application = in_status(ApplicationStatus.UNDER_REVIEW)
    shipment = Shipment.objects.create(
        organization=application.organization,
        external_reference="PO-7",
        exporter=application.exporter,
        consignee_name="Rheinland Motoren GmbH",
        consignee_country="DE",
        destination_country="DE",
        required_ship_date=timezone.localdate() + dt.timedelta(days=60),
        license_application=application,
    )

    refused = post_action(officer_client, Shipment, "record_shipped", [shipment], apply="Go")
    texts = messages_of(officer_client.get(refused["Location"]))
    assert texts == [
        "PO-7: Cannot move from 'awaiting_license' to 'shipped'. Allowed from "
        "'awaiting_license': licensed, on_hold, cancelled."
    ]

    post_action(officer_client, Shipment, "cancel", [shipment], apply="Cancel", note="PO void")
    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.CANCELLED
    assert shipment.status_changes.get().note == "PO void"
    assert StatusChange.objects.filter(application=application).count() == 3


def test_acknowledge_an_alert_on_its_own_page_with_a_note(officer_client, officer, in_status):
    alert = _alert(in_status(ApplicationStatus.UNDER_REVIEW))
    page = officer_client.get(change_url(alert))
    assert 'name="acknowledge"' in page.content.decode()
    data = change_form_data(page)
    data.update({"acknowledge": "on", "note": "Told the buyer's planning team.", "_save": "Save"})

    response = officer_client.post(change_url(alert), data)

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == officer
    assert alert.acknowledge_note == "Told the buyer's planning team."
    assert 'name="acknowledge"' not in officer_client.get(change_url(alert)).content.decode()


def _with_line(data: dict, item, quantity: str, unit: str = "kg") -> dict:
    data.update(
        {
            "lines-TOTAL_FORMS": "1",
            "lines-0-item": str(item.pk),
            "lines-0-quantity": quantity,
            "lines-0-unit": unit,
        }
    )
    return data


def test_adding_a_draft_application_goes_through_the_service(
    officer_client, officer, organization, exporter, dysprosium
):
    add_url = reverse("admin:licensing_licenseapplication_add")
    data = change_form_data(officer_client.get(add_url))
    data.update(
        {
            "organization": str(organization.pk),
            "exporter": str(exporter.pk),
            "authority": str(dysprosium.authority.pk),
            "license_type": "single",
            "end_user_name": "Rheinland Motoren GmbH",
            "end_user_country": "DE",
            "end_use": "Motors",
            "destination_country": "DE",
            "_save": "Save",
        }
    )

    response = officer_client.post(add_url, _with_line(data, dysprosium, "250"))

    assert response.status_code == 302
    application = LicenseApplication.objects.get(end_use="Motors")
    assert application.status == ApplicationStatus.DRAFT
    assert [(line.item, line.quantity) for line in application.lines.all()] == [(dysprosium, 250)]


def test_a_shipment_the_license_cannot_cover_is_not_saved(officer_client, in_status, dysprosium):
    application = in_status(ApplicationStatus.UNDER_REVIEW)  # 1000 kg of dysprosium
    add_url = reverse("admin:licensing_shipment_add")
    data = change_form_data(officer_client.get(add_url))
    data.update(
        {
            "organization": str(application.organization.pk),
            "external_reference": "PO-TOO-BIG",
            "exporter": str(application.exporter.pk),
            "consignee_name": "Rheinland Motoren GmbH",
            "consignee_country": "DE",
            "destination_country": "DE",
            "required_ship_date": (timezone.localdate() + dt.timedelta(days=90)).isoformat(),
            "license_application": str(application.pk),
            "_save": "Save",
        }
    )

    refused = officer_client.post(add_url, _with_line(dict(data), dysprosium, "1500"))

    assert refused.status_code == 302
    texts = messages_of(officer_client.get(refused["Location"]))
    assert texts == ["Not saved: 1C905: 1000 kg remaining on the license, 1500 kg requested."]
    assert not Shipment.objects.filter(external_reference="PO-TOO-BIG").exists()

    accepted = officer_client.post(add_url, _with_line(dict(data), dysprosium, "400"))

    assert accepted.status_code == 302
    shipment = Shipment.objects.get(external_reference="PO-TOO-BIG")
    assert shipment.license_application == application
    assert shipment.lines.get().quantity == 400
