"""Who may do what in the admin: the Auditor views everything and changes nothing (no action
is offered to it, and a forged action POST is 403); the Compliance officer acts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from licensing.models import (
    AlertKind,
    ApplicationStatus,
    DelayAlert,
    DelayLevel,
    LicenseApplication,
    Shipment,
    ThresholdRule,
    WebhookDelivery,
    WebhookEndpoint,
)
from licensing.models.delays import ThresholdLevel
from tests.admin.conftest import change_form_data, change_url, changelist_url, post_action
from tests.factories import application_in_status

pytestmark = pytest.mark.django_db

WORK_QUEUES = [LicenseApplication, Shipment, DelayAlert, ThresholdRule, WebhookDelivery]


@pytest.fixture
def application(organization, exporter, dysprosium):
    return application_in_status(
        ApplicationStatus.UNDER_REVIEW,
        organization=organization,
        exporter=exporter,
        line__item=dysprosium,
    )


@pytest.fixture
def alert(application):
    return DelayAlert.objects.create(
        organization=application.organization,
        kind=AlertKind.DELAY_LEVEL,
        level=DelayLevel.WARNING,
        application=application,
        message="warning",
        raised_at=timezone.now(),
    )


@pytest.mark.parametrize("model", WORK_QUEUES, ids=lambda model: model.__name__)
def test_auditor_is_offered_no_action(auditor_client, application, model):
    response = auditor_client.get(changelist_url(model))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="action"' not in html
    assert 'class="action-select"' not in html


def test_officer_is_offered_the_workflow_but_no_deletion(officer_client, application):
    html = officer_client.get(changelist_url(LicenseApplication)).content.decode()

    assert 'name="action"' in html
    for action in ("submit", "accept", "approve", "deny", "withdraw", "record_clock_stop"):
        assert f'<option value="{action}"' in html
    assert 'value="delete_selected"' not in html


def test_auditor_forged_action_is_403_and_changes_nothing(auditor_client, application, alert):
    # Through the intermediate form (no index) and straight from the action bar (index=0).
    approve = post_action(
        auditor_client,
        LicenseApplication,
        "approve",
        [application],
        apply="Approve",
        license_number="LIC-1",
        valid_from="2026-01-01",
        valid_until="2026-12-31",
    )
    acknowledge = post_action(auditor_client, DelayAlert, "acknowledge", [alert])

    assert approve.status_code == 403
    assert acknowledge.status_code == 403
    application.refresh_from_db()
    assert application.status == ApplicationStatus.UNDER_REVIEW
    assert application.license_number == ""
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_officer_forged_delete_is_403_and_deletes_nothing(officer_client, application, alert):
    """Officers are offered actions, but not deletion: a forged one is refused, not ignored."""
    straight = post_action(officer_client, DelayAlert, "delete_selected", [alert])
    confirmed = post_action(
        officer_client, LicenseApplication, "delete_selected", [application], post="yes"
    )

    assert straight.status_code == 403
    assert confirmed.status_code == 403
    assert DelayAlert.objects.filter(pk=alert.pk).exists()
    assert LicenseApplication.objects.filter(pk=application.pk).exists()


def test_auditor_views_the_application_page_but_cannot_save_it(
    auditor_client, officer_client, application, alert
):
    page = auditor_client.get(change_url(application))
    assert page.status_code == 200
    html = page.content.decode()
    assert alert.message in html
    assert 'name="_save"' not in html
    assert 'name="alerts-0-acknowledge"' not in html

    data = change_form_data(officer_client.get(change_url(application)))
    data.update({"authority_reference": "FORGED", "alerts-0-acknowledge": "on"})
    response = auditor_client.post(change_url(application), data)

    assert response.status_code == 403
    application.refresh_from_db()
    alert.refresh_from_db()
    assert application.authority_reference != "FORGED"
    assert alert.acknowledged_at is None


def test_officer_saves_the_application_page(officer_client, application):
    data = change_form_data(officer_client.get(change_url(application)))
    data["authority_reference"] = "MOFCOM-2026-0099"

    response = officer_client.post(change_url(application), data)

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.authority_reference == "MOFCOM-2026-0099"


def test_officers_see_default_rules_but_only_superusers_change_them(
    officer_client, admin_client, organization
):
    default = ThresholdRule.objects.create(name="Everyone's default")
    ThresholdLevel.objects.create(rule=default, level="warning", after=30)
    own = ThresholdRule.objects.create(name="Our magnets", organization=organization)

    listing = officer_client.get(changelist_url(ThresholdRule)).content.decode()
    assert "Everyone&#x27;s default" in listing and "Our magnets" in listing

    data = change_form_data(admin_client.get(change_url(default)))
    data["name"] = "Renamed by an officer"
    assert officer_client.post(change_url(default), data).status_code == 403
    default.refresh_from_db()
    assert default.name == "Everyone's default"
    assert 'name="_save"' in officer_client.get(change_url(own)).content.decode()


def test_adding_a_webhook_endpoint_needs_the_change_permission_too(
    django_user_model, organization, settings
):
    """Adding an endpoint shows its signing secret, which only who may change endpoints sees."""
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    user = django_user_model.objects.create_user(
        username="adds-only", password="unused-password", is_staff=True
    )
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=("add_webhookendpoint", "view_webhookendpoint"))
    )
    organization.members.add(user)
    client = Client()
    client.force_login(user)
    add_url = reverse("admin:licensing_webhookendpoint_add")

    page = client.get(add_url)
    response = client.post(
        add_url,
        {
            "organization": str(organization.pk),
            "url": "http://127.0.0.1:9/hooks",
            "event_types": "[]",
            "is_active": "on",
        },
    )

    assert page.status_code == 403
    assert response.status_code == 403
    assert "whsec_" not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("event_types", "saved", "error"),
    [
        ("", [], None),  # blank: every event, as in the API
        ("null", [], None),
        ('["alert.raised", "alert.raised"]', ["alert.raised"], None),
        ('"alert.raised"', None, "A list of event types."),
        ('["alert.rasied"]', None, "Unknown event types: alert.rasied."),
    ],
)
def test_adding_a_webhook_endpoint_in_the_admin_checks_its_event_types(
    admin_client, organization, settings, event_types, saved, error
):
    """A blank or odd `event_types` is a form error or "every event", never a server error."""
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    response = admin_client.post(
        reverse("admin:licensing_webhookendpoint_add"),
        {
            "organization": str(organization.pk),
            "url": "http://127.0.0.1:9/hooks",
            "event_types": event_types,
            "is_active": "on",
        },
    )

    if error is None:
        assert response.status_code == 302
        assert WebhookEndpoint.objects.get().event_types == saved
    else:
        assert response.status_code == 200
        assert error in response.content.decode()
        assert not WebhookEndpoint.objects.exists()
