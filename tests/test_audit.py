"""The audit trail: every write leaves a row naming its actor, time and request id.

API writes, task writes and retention; the admin side is in tests/admin/test_history.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.actors import Actor
from core.audit import audit_purge_expired, audit_record
from core.models import ObjectChange
from licensing.models import LicenseApplication, WebhookDelivery
from licensing.models.delays import DelayAlert
from licensing.services.api_keys import api_key_create
from licensing.services.webhooks import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_events_record,
)
from licensing.tasks import deliver_webhook, scan_delays
from tests.delays.conftest import WARNING_DAY, FrozenClock, accepted_application, beijing
from tests.test_settings import run
from tests.webhooks.receiver import Receiver

APPLICATIONS = "/api/v1/license-applications/"


def rows_for(instance) -> list[ObjectChange]:
    return list(
        ObjectChange.objects.filter(
            content_type=ContentType.objects.get_for_model(instance), object_id=str(instance.pk)
        ).order_by("time", "id")
    )


@pytest.fixture
def api(organization) -> APIClient:
    _, key = api_key_create(organization_name=organization.name, name="erp")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def application_body(exporter) -> dict:
    return {
        "exporter": str(exporter.pk),
        "authority": "CN-MOFCOM",
        "license_type": "general",
        "end_user": {"name": "Rheinland Motoren GmbH", "country": "DE", "address": "Köln"},
        "end_use": "Manufacture of permanent-magnet motors.",
        "destination_country": "DE",
        "lines": [{"item": "1C905", "quantity": "1000", "unit": "kg"}],
    }


# --- API writes --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_create_and_transition_are_recorded_with_the_key_and_the_response_request_id(
    api, exporter, dysprosium
):
    before = timezone.now()
    created = api.post(APPLICATIONS, application_body(exporter), format="json")
    assert created.status_code == 201, created.content
    application = LicenseApplication.objects.get(pk=created.json()["id"])

    submitted = api.post(f"{created.json()['url']}transitions/", {"to": "submitted"}, format="json")
    assert submitted.status_code == 201, submitted.content
    after = timezone.now()

    create_row, transition_row = rows_for(application)
    assert create_row.action == "create"
    assert create_row.request_id == created["X-Request-ID"]
    assert create_row.actor_label.startswith("api-key:erp (")
    assert create_row.user is None
    assert before <= create_row.time <= after
    assert create_row.changes["end_use"] == [None, "Manufacture of permanent-magnet motors."]
    assert create_row.changes["lines"] == [None, ["1C905 1000 kg"]]
    assert create_row.organization_id == str(exporter.organization_id)

    assert transition_row.action == "transition"
    assert transition_row.request_id == submitted["X-Request-ID"]
    assert transition_row.request_id != create_row.request_id
    assert transition_row.actor_label == create_row.actor_label
    assert transition_row.changes["status"] == ["draft", "submitted"]


@pytest.mark.django_db
def test_an_api_update_records_only_what_changed(api, exporter, dysprosium):
    created = api.post(APPLICATIONS, application_body(exporter), format="json").json()
    response = api.patch(
        created["url"], {"end_use": "Servo motors."}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200, response.content

    update_row = rows_for(LicenseApplication.objects.get(pk=created["id"]))[-1]
    assert update_row.action == "update"
    assert update_row.request_id == response["X-Request-ID"]
    assert update_row.changes == {
        "end_use": ["Manufacture of permanent-magnet motors.", "Servo motors."]
    }


@pytest.mark.django_db
def test_a_refused_request_writes_no_audit_row(api, exporter, dysprosium):
    created = api.post(APPLICATIONS, application_body(exporter), format="json").json()
    rows_before = ObjectChange.objects.count()

    refused = api.post(f"{created['url']}transitions/", {"to": "approved"}, format="json")

    assert refused.status_code == 409, refused.content
    assert not ObjectChange.objects.filter(request_id=refused["X-Request-ID"]).exists()
    assert ObjectChange.objects.count() == rows_before


@pytest.mark.django_db
def test_a_request_failing_after_the_write_rolls_its_audit_row_back(
    api, exporter, dysprosium, monkeypatch
):
    """The row is written in the service's transaction: when a later step fails, it goes too."""
    created = api.post(APPLICATIONS, application_body(exporter), format="json").json()

    def outbox_down(changes):
        raise RuntimeError("outbox down")

    monkeypatch.setattr(
        "licensing.services.applications.webhook_application_status_changed", outbox_down
    )
    api.raise_request_exception = False
    failed = api.post(f"{created['url']}transitions/", {"to": "submitted"}, format="json")

    assert failed.status_code == 500
    assert LicenseApplication.objects.get(pk=created["id"]).status == "draft"
    assert [row.action for row in rows_for(LicenseApplication(pk=created["id"]))] == ["create"]


@pytest.mark.django_db
def test_deleting_an_application_keeps_its_audit_rows(api, exporter, dysprosium):
    """Audit rows are evidence, not children: they outlive the object they describe."""
    created = api.post(APPLICATIONS, application_body(exporter), format="json").json()

    deleted = api.delete(created["url"], HTTP_IF_MATCH='"1"')

    assert deleted.status_code == 204, deleted.content
    assert not LicenseApplication.objects.filter(pk=created["id"]).exists()
    rows = ObjectChange.objects.filter(object_id=created["id"]).order_by("time", "id")
    assert [row.action for row in rows] == ["create", "delete"]
    assert rows[1].request_id == deleted["X-Request-ID"]
    assert rows[1].changes["end_use"] == ["Manufacture of permanent-magnet motors.", None]


# --- tasks -------------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    """Monday 10 November 2025 in Beijing: day 27 of a clock started on 26 September."""
    frozen = FrozenClock(beijing("2025-11-10"))
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.mark.django_db
def test_the_scan_task_records_level_changes_and_alerts_as_the_scan_under_its_request_id(
    clock, monkeypatch
):
    application = accepted_application()
    assert application.delay_level == "none"
    clock.set(beijing(WARNING_DAY))
    monkeypatch.setattr("core.request_id.new_request_id", lambda: "scan-request-1")

    result = scan_delays()

    application.refresh_from_db()
    assert result["raised"] == 1
    assert application.delay_level == "warning"
    level_row = rows_for(application)[-1]
    assert level_row.actor_label == "system:scan"
    assert level_row.user is None
    assert level_row.request_id == "scan-request-1"
    assert level_row.time == timezone.now()
    assert level_row.changes["delay_level"] == ["none", "warning"]

    alert = DelayAlert.objects.get(application=application)
    (alert_row,) = rows_for(alert)
    assert alert_row.action == "create"
    assert alert_row.actor_label == "system:scan"
    assert alert_row.request_id == "scan-request-1"
    # An alert names its application, so the application's history shows it.
    assert alert_row.parent_object_id == str(application.pk)
    assert alert_row.organization_id == str(application.organization_id)


@pytest.mark.django_db
def test_the_scan_writes_its_audit_rows_in_one_insert_per_batch(clock):
    """Set-based: more due applications do not mean more queries for the audit trail."""
    applications = [accepted_application() for _ in range(3)]
    clock.set(beijing(WARNING_DAY))

    with CaptureQueriesContext(connection) as queries:
        scan_delays()

    audit_inserts = [
        query
        for query in queries.captured_queries
        if 'INSERT INTO "core_objectchange"' in query["sql"]
    ]
    # One for the level changes, one for the alerts raised.
    assert len(audit_inserts) == 2
    scan_rows = ObjectChange.objects.filter(actor_label="system:scan")
    assert scan_rows.filter(action="update").count() == len(applications)
    assert scan_rows.filter(action="create").count() == len(applications)


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_webhook_secrets_never_reach_the_audit_trail(organization, settings):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    actor = Actor.system("tests")
    endpoint = webhook_endpoint_create(
        organization=organization, actor=actor, url="http://127.0.0.1:9/hook"
    )
    first_secret = endpoint.secret
    webhook_endpoint_rotate_secret(endpoint=endpoint, actor=actor)

    created, rotated = rows_for(endpoint)
    assert created.changes["secret"] == [None, "[redacted]"]
    assert rotated.changes["secret"] == ["[redacted]", "[redacted]"]
    stored = str(created.changes) + str(rotated.changes)
    assert first_secret not in stored
    assert endpoint.secret not in stored


# --- retention ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_purge_keeps_every_row_younger_than_five_years(organization, settings):
    settings.AUDIT_RETENTION_DAYS = 1827
    now = timezone.now()
    actor = Actor.system("tests")
    ages = {
        "today": 0,
        "four years": 4 * 365,
        "just under five years": 1826,
        "eight years": 8 * 365,
    }
    for label, days in ages.items():
        row = audit_record(actor=actor, instance=organization, action="update", changes={})
        row.time = now - dt.timedelta(days=days)
        row.object_repr = label
        row.save(update_fields=["time", "object_repr"])

    assert audit_purge_expired(now=now) == 1
    assert set(ObjectChange.objects.values_list("object_repr", flat=True)) == {
        "today",
        "four years",
        "just under five years",
    }


@pytest.mark.django_db
def test_the_purge_refuses_a_retention_under_five_years(organization, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    row = audit_record(
        actor=Actor.system("tests"), instance=organization, action="update", changes={}
    )
    row.time = timezone.now() - dt.timedelta(days=400)
    row.save(update_fields=["time"])

    with pytest.raises(ImproperlyConfigured, match="AUDIT_RETENTION_DAYS"):
        audit_purge_expired()
    assert ObjectChange.objects.filter(pk=row.pk).exists()


def test_settings_refuse_to_load_with_a_retention_under_five_years():
    result = run(["-c", "import config.settings.test"], env={"AUDIT_RETENTION_DAYS": "1826"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "AUDIT_RETENTION_DAYS" in result.stderr


def test_settings_keep_audit_rows_seven_years_by_default():
    result = run(["-c", "import config.settings.test as s; print(s.AUDIT_RETENTION_DAYS)"], env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2557"


@pytest.mark.django_db
def test_the_delivery_task_disabling_an_endpoint_is_recorded(organization, settings, monkeypatch):
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    receiver = Receiver(410).start()
    try:
        endpoint = webhook_endpoint_create(
            organization=organization, actor=Actor.system("tests"), url=receiver.url
        )
        webhook_events_record(
            organization=organization,
            event_type="alert.raised",
            data={"id": "1"},
            endpoints=[endpoint],
        )
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        monkeypatch.setattr("core.request_id.new_request_id", lambda: "delivery-task-1")

        deliver_webhook(str(delivery.pk))
    finally:
        receiver.stop()

    disabled = rows_for(endpoint)[-1]
    assert disabled.actor_label == "system:webhook-delivery"
    assert disabled.request_id == "delivery-task-1"
    assert disabled.changes["is_active"] == [True, False]
    assert "410" in disabled.changes["disabled_reason"][1]
