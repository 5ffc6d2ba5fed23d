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
from licensing.services.delays import alerts_resolve, delays_scan
from licensing.services.webhooks import (
    PAYLOAD_MAX_BYTES,
    webhook_events_record,
)
from tests.delays.conftest import CRITICAL_DAY, accepted_application, beijing, clock  # noqa: F401
from tests.webhooks.conftest import make_endpoint


def bodies(endpoint, prefix: str = "") -> list[dict]:
    """The endpoint's event bodies in sequence order, those whose type starts with `prefix`."""
    return [
        body
        for body in (
            json.loads(raw)
            for raw in WebhookDelivery.objects.filter(endpoint=endpoint)
            .order_by("sequence")
            .values_list("body", flat=True)
        )
        if body["type"].startswith(prefix)
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
    report = delays_scan()  # the scan records the events itself, in its transaction
    assert len(report.raised) == 2  # warning, then critical escalating it

    raised, escalated = bodies(endpoint, "alert.")
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
    assert escalated["sequence"] == raised["sequence"] + 1

    alerts_resolve(
        alerts=DelayAlert.objects.filter(pk=warning.pk),
        reason="The application is approved.",
        now=clock(),
    )
    resolved = bodies(endpoint)[-1]
    assert resolved["type"] == "alert.resolved"
    assert resolved["data"]["alert"]["state"] == "resolved"
    assert resolved["data"]["alert"]["resolution"] == "The application is approved."
    assert len(bodies(endpoint, "alert.")) == 3  # each alert event exactly once
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
    # Each transition of the walk (submitted, accepted, under_review) recorded its event.
    changes = bodies(endpoint, "license_application.status_changed")
    assert [body["data"]["change"]["to_status"] for body in changes] == [
        "submitted",
        "accepted",
        "under_review",
    ]
    assert {body["data"]["application"]["id"] for body in changes} == {str(application.pk)}
    latest = StatusChange.objects.filter(application=application).latest("occurred_at")
    assert changes[-1]["data"]["change"]["id"] == str(latest.pk)


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
