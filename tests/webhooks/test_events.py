"""The event catalogue built from real alerts and status changes, and the sequence under concurrency.

The delay engine calls these builders (see licensing.services.webhooks); here they are fed
the alerts a real scan raises.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import close_old_connections, connection, transaction

from licensing.models import DelayAlert, StatusChange, WebhookDelivery
from licensing.services.delays import delays_scan
from licensing.services.webhooks import (
    PAYLOAD_MAX_BYTES,
    webhook_alerts_raised,
    webhook_alerts_resolved,
    webhook_application_status_changed,
    webhook_events_record,
)
from tests.delays.conftest import CRITICAL_DAY, accepted_application, beijing, clock  # noqa: F401
from tests.webhooks.conftest import make_endpoint


def bodies(endpoint) -> list[dict]:
    return [
        json.loads(body)
        for body in WebhookDelivery.objects.filter(endpoint=endpoint)
        .order_by("sequence")
        .values_list("body", flat=True)
    ]


@pytest.mark.django_db
def test_raised_escalated_and_resolved_alerts_send_one_event_each(
    clock,  # noqa: F811
    mofcom,
    organization,
    exporter,
):
    endpoint = make_endpoint(organization, "http://127.0.0.1:9/hooks")
    application = accepted_application(
        organization=organization, exporter=exporter, authority=mofcom
    )
    clock.set(beijing(CRITICAL_DAY))
    report = delays_scan()
    assert len(report.raised) == 2  # warning, then critical escalating it

    webhook_alerts_raised(report.raised)

    raised, escalated = bodies(endpoint)
    assert [raised["type"], escalated["type"]] == ["alert.raised", "alert.escalated"]
    warning = DelayAlert.objects.get(level="warning")
    assert raised["data"]["alert"]["id"] == str(warning.pk)
    assert raised["data"]["alert"]["url"] == (
        f"https://exports.example.com/api/v1/alerts/{warning.pk}/"
    )
    assert raised["data"]["application"]["url"] == (
        f"https://exports.example.com/api/v1/license-applications/{application.pk}/"
    )
    assert escalated["data"]["alert"]["escalates"]["id"] == str(warning.pk)
    assert escalated["data"]["alert"]["level"] == "critical"
    assert [raised["sequence"], escalated["sequence"]] == [1, 2]

    DelayAlert.objects.update(resolved_at=clock(), resolution="The application is approved.")
    webhook_alerts_resolved([warning.pk])
    resolved = bodies(endpoint)[-1]
    assert resolved["type"] == "alert.resolved"
    assert resolved["data"]["alert"]["state"] == "resolved"
    assert resolved["data"]["alert"]["resolution"] == "The application is approved."
    for body in bodies(endpoint):
        assert len(json.dumps(body).encode()) < PAYLOAD_MAX_BYTES


@pytest.mark.django_db
def test_a_status_change_sends_license_application_status_changed(
    clock,  # noqa: F811
    mofcom,
    organization,
    exporter,
):
    endpoint = make_endpoint(organization, "http://127.0.0.1:9/hooks")
    application = accepted_application(
        organization=organization, exporter=exporter, authority=mofcom
    )
    change = StatusChange.objects.filter(application=application).latest("occurred_at")

    webhook_application_status_changed([change])

    (body,) = bodies(endpoint)
    assert body["type"] == "license_application.status_changed"
    assert body["data"]["change"]["to_status"] == "under_review"
    assert body["data"]["application"]["id"] == str(application.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_recorders_get_gapless_unique_sequences(postgres_only, organization):
    endpoint = make_endpoint(organization, "http://127.0.0.1:9/hooks")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def recorder() -> None:
        try:
            start.wait()
            for index in range(10):
                with transaction.atomic():
                    webhook_events_record(
                        organization=organization, event_type="alert.raised", data={"i": index}
                    )
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=recorder) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    sequences = list(
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .order_by("sequence")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, 41))
