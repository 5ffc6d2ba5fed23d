"""Delivering: real requests to a real receiver on loopback, signed, retried, logged.

The attempts run in the test process (the drills run them in a Celery worker). Waiting for
a retry is simulated by making the delivery due now; the delay chosen is read from
`next_attempt_at`.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from core.webhooks import ssrf
from licensing.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from licensing.services.webhooks import (
    PAYLOAD_MAX_BYTES,
    webhook_deliveries_sweep,
    webhook_delivery_attempt,
    webhook_endpoint_rotate_secret,
    webhook_events_record,
)
from licensing.tasks import deliver_webhook
from tests.webhooks.conftest import SCHEDULE, make_endpoint
from tests.webhooks.receiver import Answer

pytestmark = pytest.mark.django_db


def record(organization, event_type="alert.raised", data=None):
    return webhook_events_record(
        organization=organization,
        event_type=event_type,
        data=data or {"alert": {"id": "a1", "message": "Dysprosium license: warning"}},
    )


def only_delivery(endpoint) -> WebhookDelivery:
    return WebhookDelivery.objects.get(endpoint=endpoint)


def make_due(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def seconds_until_next(delivery: WebhookDelivery) -> float:
    delivery.refresh_from_db()
    last = delivery.attempt_log.order_by("-started_at").first()
    ended = last.started_at + dt.timedelta(milliseconds=last.duration_ms)
    return (delivery.next_attempt_at - ended).total_seconds()


@pytest.fixture
def queued(monkeypatch):
    """The delivery ids queued to the broker (nothing is really sent)."""
    calls: list[tuple[str, float | None]] = []

    def apply_async(args, countdown=None, **options):
        calls.append((args[0], countdown))

    monkeypatch.setattr(deliver_webhook, "apply_async", apply_async)
    return calls


# -- signing ---------------------------------------------------------------------------------


def test_the_request_is_signed_and_verified_by_the_standardwebhooks_library(
    organization, receivers
):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)

    webhook_delivery_attempt(delivery.pk)

    (request,) = receiver.wait_for(1)
    event = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert request.body == delivery.body.encode()  # the bytes signed are the bytes sent
    assert request.headers["webhook-id"] == delivery.webhook_id
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 10
    assert request.headers["webhook-signature"].startswith("v1,")
    assert " " not in request.headers["webhook-signature"]
    assert event["type"] == "alert.raised"
    assert event["sequence"] == 1
    assert set(event) == {"type", "timestamp", "sequence", "data"}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.delivered_at is not None


def test_a_tampered_body_or_another_secret_does_not_verify(organization, receivers):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    other = make_endpoint(organization, receiver.url + "/other")
    record(organization)
    webhook_delivery_attempt(only_delivery(endpoint).pk)
    (request,) = receiver.wait_for(1)

    assert request.verifies_with(endpoint.secret)
    assert not request.verifies_with(other.secret)
    tampered = request.body.replace(b'"alert.raised"', b'"alert.resolved"')
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint.secret).verify(tampered, request.headers)


def test_during_the_rotation_grace_both_signatures_are_sent_and_both_verify(
    organization, receivers, actor
):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    old_secret = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=actor)
    assert endpoint.secret != old_secret
    record(organization)

    webhook_delivery_attempt(only_delivery(endpoint).pk)

    (request,) = receiver.wait_for(1)
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert request.verifies_with(endpoint.secret)
    assert request.verifies_with(old_secret)


def test_after_the_grace_only_the_new_secret_signs(organization, receivers, actor):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    old_secret = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=actor)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    record(organization)
    webhook_delivery_attempt(only_delivery(endpoint).pk)
    (request,) = receiver.wait_for(1)
    assert " " not in request.headers["webhook-signature"]
    assert request.verifies_with(endpoint.secret)
    assert not request.verifies_with(old_secret)


# -- outcomes --------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [500, 502, 503, 429])
def test_5xx_and_429_are_retried_on_the_schedule_with_the_same_webhook_id(
    organization, receivers, failure
):
    receiver = receivers(failure, failure, failure, 200)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)

    delays = []
    for _ in range(3):
        webhook_delivery_attempt(delivery.pk)
        delays.append(round(seconds_until_next(delivery)))
        assert delivery.status == DeliveryStatus.PENDING
        make_due(delivery)
    webhook_delivery_attempt(delivery.pk)

    assert delays == SCHEDULE[1:4]
    requests = receiver.wait_for(4)
    assert {r.webhook_id for r in requests} == {delivery.webhook_id}
    assert all(r.verifies_with(endpoint.secret) for r in requests)
    assert len({r.body for r in requests}) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 4
    log = list(delivery.attempt_log.values_list("status_code", flat=True))
    assert log == [failure, failure, failure, 200]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.failing_since is None


def test_retry_after_in_seconds_or_as_a_date_is_honoured(organization, receivers):
    later = timezone.now() + dt.timedelta(minutes=20)
    receiver = receivers(
        Answer(429, {"Retry-After": "120"}),
        Answer(503, {"Retry-After": later.strftime("%a, %d %b %Y %H:%M:%S GMT")}),
        Answer(503, {"Retry-After": "1"}),
    )
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)

    webhook_delivery_attempt(delivery.pk)
    assert 119 <= seconds_until_next(delivery) <= 121  # longer than the schedule's 5 s
    make_due(delivery)
    webhook_delivery_attempt(delivery.pk)
    assert 19 * 60 - 5 <= seconds_until_next(delivery) <= 20 * 60 + 5  # instead of 300 s
    make_due(delivery)
    webhook_delivery_attempt(delivery.pk)
    assert round(seconds_until_next(delivery)) == SCHEDULE[3]  # shorter: the schedule wins


def test_a_timeout_is_cut_off_and_retried(organization, receivers, settings):
    receiver = receivers(Answer(hang=True), 204)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)

    started = timezone.now()
    webhook_delivery_attempt(delivery.pk)
    took = (timezone.now() - started).total_seconds()
    receiver.release()

    assert took < settings.WEBHOOK_READ_TIMEOUT_SECONDS + 2
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None and "Timed out" in attempt.error
    assert round(seconds_until_next(delivery)) == SCHEDULE[1]
    make_due(delivery)
    assert webhook_delivery_attempt(delivery.pk).status == DeliveryStatus.SUCCEEDED


def test_a_connection_error_is_retried(organization, receivers):
    receiver = receivers(204)
    url = receiver.url
    receiver.stop()  # nothing listens there any more
    endpoint = make_endpoint(organization, url)
    record(organization)
    delivery = webhook_delivery_attempt(only_delivery(endpoint).pk)
    assert delivery.status == DeliveryStatus.PENDING
    assert "Connection failed" in delivery.last_error


def test_410_disables_the_endpoint_with_a_reason(organization, receivers):
    receiver = receivers(410)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    record(organization)
    first, second = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("sequence")

    assert webhook_delivery_attempt(first.pk).status == DeliveryStatus.FAILED
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "410" in endpoint.disabled_reason
    assert endpoint.version == 2
    # The endpoint's other deliveries are not sent; new events do not reach it.
    assert webhook_delivery_attempt(second.pk).status == DeliveryStatus.FAILED
    record(organization)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_other_4xx_fail_without_retry(organization, receivers, code):
    receiver = receivers(Answer(code, body=b"no such hook" * 1000))
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = webhook_delivery_attempt(only_delivery(endpoint).pk)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.next_attempt_at is None
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == code
    assert attempt.response_excerpt.startswith("no such hook")
    assert len(attempt.response_excerpt) <= 2048
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 1


def test_a_redirect_to_an_internal_address_is_not_followed(organization, receivers):
    internal = receivers(204)
    receiver = receivers(Answer(302, {"Location": internal.url}))
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)

    delivery = webhook_delivery_attempt(only_delivery(endpoint).pk)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status_code == 302
    assert "redirects are not followed" in delivery.last_error
    assert internal.requests == []


def test_the_schedule_exhausted_kills_the_delivery_and_disables_the_endpoint(
    organization, receivers, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 1, 1]
    receiver = receivers(500)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)
    for _ in range(3):
        make_due(delivery)
        delivery = webhook_delivery_attempt(delivery.pk)
    assert delivery.status == DeliveryStatus.DEAD
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "retry schedule" in endpoint.disabled_reason
    assert endpoint.consecutive_failures == 3


def test_days_of_consecutive_failure_disable_the_endpoint(organization, receivers, settings):
    receiver = receivers(500)
    endpoint = make_endpoint(organization, receiver.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now()
        - dt.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS, minutes=1),
        consecutive_failures=40,
    )
    record(organization)
    webhook_delivery_attempt(only_delivery(endpoint).pk)
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert f"for {settings.WEBHOOK_DISABLE_AFTER_DAYS} days" in endpoint.disabled_reason


def test_jitter_spreads_the_delays_within_its_fraction(organization, receivers, settings):
    settings.WEBHOOK_RETRY_JITTER = 0.1
    receiver = receivers(500)
    endpoint = make_endpoint(organization, receiver.url)
    delays = []
    for _ in range(5):
        record(organization)
    for delivery in WebhookDelivery.objects.filter(endpoint=endpoint):
        make_due(delivery)
        webhook_delivery_attempt(delivery.pk)
        delays.append(seconds_until_next(delivery))
    assert all(4.5 <= d <= 5.5 for d in delays), delays
    assert len({round(d, 3) for d in delays}) > 1


def test_an_attempt_is_a_no_op_when_not_due_claimed_or_done(organization, receivers, queued):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=timezone.now() + dt.timedelta(seconds=30)
    )
    webhook_delivery_attempt(delivery.pk)  # claimed by a worker: looked at again later
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=None, next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )
    webhook_delivery_attempt(delivery.pk)  # not due
    assert receiver.requests == []
    make_due(delivery)
    webhook_delivery_attempt(delivery.pk)
    webhook_delivery_attempt(delivery.pk)  # done
    assert len(receiver.wait_for(1)) == 1
    assert webhook_delivery_attempt("00000000-0000-0000-0000-000000000000") is None


# -- the outbox ------------------------------------------------------------------------------


def test_an_event_recorded_in_a_rolled_back_transaction_leaves_nothing(
    organization, receivers, django_capture_on_commit_callbacks
):
    make_endpoint(organization, receivers(204).url)
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        record(organization)
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the change that caused the event failed")
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert callbacks == []


def test_deliveries_are_queued_on_commit_only(
    organization, receivers, queued, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(organization, receivers(204).url)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record(organization)
        assert queued == []
    assert len(callbacks) == 1
    assert queued == [(str(only_delivery(endpoint).pk), None)]


def test_only_active_endpoints_that_want_the_type_get_a_delivery(
    organization, other_organization, receivers
):
    url = receivers(204).url
    everything = make_endpoint(organization, url)
    alerts_only = make_endpoint(organization, url, event_types=["alert.raised"])
    resolved_only = make_endpoint(organization, url, event_types=["alert.resolved"])
    make_endpoint(organization, url, is_active=False)
    theirs = make_endpoint(other_organization, url)

    record(organization, "alert.raised")

    assert set(WebhookDelivery.objects.values_list("endpoint", flat=True)) == {
        everything.pk,
        alerts_only.pk,
    }
    assert resolved_only and theirs


def test_the_sequence_increments_per_endpoint(organization, receivers):
    url = receivers(204).url
    first = make_endpoint(organization, url)
    record(organization)
    second = make_endpoint(organization, url)
    for _ in range(3):
        record(organization)
    sequences = {
        endpoint: list(
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .order_by("sequence")
            .values_list("sequence", flat=True)
        )
        for endpoint in (first, second)
    }
    assert sequences == {first: [1, 2, 3, 4], second: [1, 2, 3]}
    body = json.loads(WebhookDelivery.objects.get(endpoint=first, sequence=4).body)
    assert body["sequence"] == 4


def test_a_payload_stays_under_20_kb(organization, receivers):
    endpoint = make_endpoint(organization, receivers(204).url)
    record(organization, data={"alert": {"id": "a1", "url": "u", "message": "x" * 50_000}})
    delivery = only_delivery(endpoint)
    assert len(delivery.body.encode()) < PAYLOAD_MAX_BYTES
    assert json.loads(delivery.body)["data"] == {
        "truncated": True,
        "alert": {"id": "a1", "url": "u"},
    }


# -- the sweeper -----------------------------------------------------------------------------


def test_the_sweeper_queues_a_delivery_whose_task_was_lost(
    organization, receivers, queued, settings
):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)  # its on-commit hook never runs here: the task is "lost"
    delivery = only_delivery(endpoint)
    later = timezone.now() + dt.timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS + 1)

    assert webhook_deliveries_sweep() == 0  # not overdue yet: its own task may still come
    assert webhook_deliveries_sweep(now=later) == 1
    assert queued == [(str(delivery.pk), None)]
    assert webhook_deliveries_sweep(now=later) == 0  # queued once, not at every sweep

    deliver_webhook(str(delivery.pk))  # what the worker does with the queued task
    receiver.wait_for(1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert webhook_deliveries_sweep(now=later + dt.timedelta(hours=1)) == 0


def test_the_sweeper_leaves_claimed_deliveries_alone_until_the_lease_ends(
    organization, receivers, queued
):
    endpoint = make_endpoint(organization, receivers(204).url)
    record(organization)
    delivery = only_delivery(endpoint)
    now = timezone.now() + dt.timedelta(minutes=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=now + dt.timedelta(seconds=10)
    )
    assert webhook_deliveries_sweep(now=now) == 0
    assert webhook_deliveries_sweep(now=now + dt.timedelta(seconds=11)) == 1


def test_a_sweep_while_the_broker_is_down_queues_nothing_and_tries_again(
    organization, receivers, monkeypatch
):
    endpoint = make_endpoint(organization, receivers(204).url)
    record(organization)
    record(organization)

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6399")

    monkeypatch.setattr(deliver_webhook, "apply_async", broker_down)
    later = timezone.now() + dt.timedelta(minutes=1)
    assert webhook_deliveries_sweep(now=later) == 0
    assert not WebhookDelivery.objects.filter(enqueued_at__isnull=False).exists()
    calls = []
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda args, **kw: calls.append(args))
    assert webhook_deliveries_sweep(now=later) == 2
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == len(calls) == 2


def test_each_attempt_is_logged(organization, receivers):
    receiver = receivers(500, 204)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)
    webhook_delivery_attempt(delivery.pk)
    make_due(delivery)
    webhook_delivery_attempt(delivery.pk)
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [500, 204]
    assert attempts[0].error == "HTTP 500" and attempts[1].error == ""
    assert all(a.duration_ms < 5000 and a.started_at for a in attempts)


# -- DNS: checked at each delivery, and the connection pinned to the checked address ----------


def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    organization, receivers, monkeypatch
):
    receiver = receivers(204)
    port = receiver.server.server_address[1]
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(ssrf, "resolve", resolve)
    # No resolver knows this name: the request can only arrive through the pinned address.
    endpoint = make_endpoint(organization, f"http://hooks.rebind.test:{port}/in")
    record(organization)

    delivery = webhook_delivery_attempt(only_delivery(endpoint).pk)

    assert delivery.status == DeliveryStatus.SUCCEEDED
    (request,) = receiver.wait_for(1)
    assert request.headers["host"] == f"hooks.rebind.test:{port}"
    assert request.path == "/in"
    assert lookups == ["hooks.rebind.test"]


def test_a_name_that_now_resolves_to_an_internal_address_is_refused_at_delivery(
    organization, receivers, monkeypatch, settings
):
    receiver = receivers(204)
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["10.0.0.7"])
    endpoint = make_endpoint(organization, "https://hooks.rebind.test/in")
    record(organization)

    delivery = webhook_delivery_attempt(only_delivery(endpoint).pk)

    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("Refused: hooks.rebind.test resolves to 10.0.0.7")
    assert receiver.requests == []


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing after the request runs, not even an except clause."""


def test_an_attempt_interrupted_by_a_dead_worker_stays_in_the_log(
    organization, receivers, monkeypatch
):
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    record(organization)
    delivery = only_delivery(endpoint)

    def killed(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr("licensing.services.webhooks.post", killed)
        with pytest.raises(WorkerKilled):
            webhook_delivery_attempt(delivery.pk)
    (open_attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert (open_attempt.duration_ms, open_attempt.status_code) == (None, None)

    # The lease of the dead worker ends; the delivery is attempted again.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now())
    webhook_delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts == 2
    log = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [(a.status_code, a.error) for a in log] == [
        (None, "Interrupted: the worker stopped before the outcome was recorded."),
        (204, ""),
    ]
    assert log[0].duration_ms is None and log[1].duration_ms is not None
    assert len(receiver.wait_for(1)) == 1
