"""/api/v1/webhook-endpoints/: the shared API contract, the secret shown once, the actions.

The representation's `url` is the endpoint's target (the issue names it so), not the self
link of the other resources: the contract's hooks that follow `url` follow `Location`.
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps

from core.webhooks.signing import secret_generate, secret_key
from licensing.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from licensing.services.webhooks import webhook_delivery_attempt, webhook_events_record
from licensing.tasks import deliver_webhook
from tests.api.contract import (
    Action,
    FilterProbe,
    WriteContract,
    assert_problem,
    ok,
    serial,
    table_counts,
)
from tests.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db
LIST_URL = "/api/v1/webhook-endpoints/"


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(deliver_webhook, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls


class TestWebhookEndpoints(WriteContract):
    list_url = LIST_URL
    model = WebhookEndpoint
    checked_fields = ("url", "description", "event_types")
    filters: tuple[FilterProbe, ...] = ()

    def make(self, world, tenant):
        return make_endpoint(tenant.organization, f"http://127.0.0.1:9/hooks/{next(serial)}")

    def make_many(self, world, tenant, count):
        rows = WebhookEndpoint.objects.bulk_create(
            WebhookEndpoint(
                organization=tenant.organization,
                url=f"http://127.0.0.1:9/many/{index}",
                secret=secret_generate(),
            )
            for index in range(count)
        )
        return [row.pk for row in rows]

    def actions(self, world, tenant):
        endpoint = self.make(world, tenant)
        webhook_events_record(
            organization=tenant.organization, event_type="alert.raised", data={"n": 1}
        )
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        return endpoint, [
            Action("get", "deliveries/"),
            Action("post", "test/"),
            Action("post", "rotate-secret/"),
            Action("post", f"deliveries/{delivery.pk}/redeliver/"),
        ]

    def create_body(self, world):
        return {
            "url": "http://127.0.0.1:8765/hooks",
            "description": "ERP bridge",
            "event_types": ["alert.raised", "alert.escalated"],
        }

    def update_body(self, world):
        return {"description": "Planning tool", "event_types": []}

    def read_only_changes(self, current):
        return super().read_only_changes(current) | {"disabled_reason": "Not mine to say."}

    def change_computed_fields(self, pk):
        # As a failed delivery attempt does: no new version.
        WebhookEndpoint.objects.filter(pk=pk).update(consecutive_failures=3)

    def create(self, world):
        body, response = super().create(world)
        return {**body, "url": response["Location"]}, response

    def test_read_answers_the_representation(self, world):
        row = self.make(world, world.ours)
        response = world.ours.api.get(self.detail_url(row))
        body = ok(response)
        assert response["ETag"] == '"1"'
        assert body["id"] == str(row.pk)
        assert body["url"] == row.url
        assert body["deliveries"] == f"http://testserver{self.detail_url(row)}deliveries/"
        assert "secret" not in body and "previous_secret" not in body

    def test_create_answers_201_with_location_etag_and_the_representation(self, world):
        sent = self.create_body(world)
        response = world.ours.api.post(self.list_url, sent, format="json")
        body = ok(response, 201)
        assert response["Location"] == f"http://testserver{self.list_url}{body['id']}/"
        assert response["ETag"] == '"1"'
        for name in self.checked_fields:
            assert body[name] == sent[name]
        row = WebhookEndpoint.objects.get(pk=body["id"])
        assert row.organization_id == world.ours.organization.pk
        assert body["secret"] == row.secret
        assert len(secret_key(body["secret"])) >= 24


def test_the_secret_is_shown_at_creation_only(world):
    created = ok(
        world.ours.api.post(LIST_URL, {"url": "http://127.0.0.1:8765/h"}, format="json"), 201
    )
    assert created["secret"].startswith("whsec_")
    url = f"{LIST_URL}{created['id']}/"
    assert "secret" not in ok(world.ours.api.get(url))
    assert all("secret" not in row for row in ok(world.ours.api.get(LIST_URL))["results"])
    patched = ok(world.ours.api.patch(url, {"description": "x"}, format="json", HTTP_IF_MATCH="*"))
    assert "secret" not in patched


def test_rotate_secret_answers_the_new_secret_and_keeps_the_old_for_the_grace(world, settings):
    created = ok(
        world.ours.api.post(LIST_URL, {"url": "http://127.0.0.1:8765/h"}, format="json"), 201
    )
    url = f"{LIST_URL}{created['id']}/"

    response = world.ours.api.post(f"{url}rotate-secret/", HTTP_IF_MATCH='"1"')

    rotated = ok(response)
    assert rotated["secret"] != created["secret"]
    assert response["ETag"] == '"2"'
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.secret == rotated["secret"]
    assert endpoint.previous_secret == created["secret"]
    grace = (endpoint.previous_secret_expires_at - endpoint.updated_at).total_seconds()
    assert abs(grace - settings.WEBHOOK_SECRET_GRACE_SECONDS) < 5
    assert rotated["previous_secret_expires_at"]
    assert_problem(world.ours.api.post(f"{url}rotate-secret/", HTTP_IF_MATCH='"1"'), 412)


def stored_plaintext(secret: str) -> list[str]:
    """Every stored column that holds `secret`, but the endpoint's own secret fields."""
    own = {
        ("licensing.WebhookEndpoint", "secret"),
        ("licensing.WebhookEndpoint", "previous_secret"),
    }
    found = []
    for app in ("core", "licensing"):
        for model in apps.get_app_config(app).get_models():
            for row in model._default_manager.values():
                for column, value in row.items():
                    if (model._meta.label, column) not in own and secret in json.dumps(
                        value, default=str
                    ):
                        found.append(f"{model._meta.label}.{column}")
    return found


@pytest.mark.parametrize("call", ["create", "rotate-secret"])
def test_a_replayed_secret_call_answers_null_and_stores_no_secret(world, call):
    api = world.ours.api
    if call == "create":
        url, body = LIST_URL, {"url": "http://127.0.0.1:8765/h"}
    else:
        created = ok(api.post(LIST_URL, {"url": "http://127.0.0.1:8765/h"}, format="json"), 201)
        url, body = f"{LIST_URL}{created['id']}/rotate-secret/", {}

    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"{call}-1")
    shown = ok(first, 201 if call == "create" else 200)
    secret = shown["secret"]
    assert secret.startswith("whsec_")
    assert WebhookEndpoint.objects.get(pk=shown["id"]).secret == secret
    assert stored_plaintext(secret) == []

    replay = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"{call}-1")

    assert replay.status_code == first.status_code
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["ETag"] == first["ETag"]
    assert replay.json() == shown | {"secret": None}
    assert secret not in replay.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://[::1]/",
        "ftp://example.com/",
        "not a url",
    ],
)
def test_an_unsafe_or_plain_http_url_is_a_400_on_url(world, url, settings):
    settings.WEBHOOK_ALLOWED_CIDRS = []
    counts = table_counts()
    response = world.ours.api.post(LIST_URL, {"url": url}, format="json")
    body = assert_problem(response, 400)
    assert {error["pointer"] for error in body["errors"]} == {"/url"}
    assert table_counts() == counts


def test_http_to_loopback_needs_the_allowlist(world, settings):
    settings.WEBHOOK_ALLOWED_CIDRS = []
    assert_problem(
        world.ours.api.post(LIST_URL, {"url": "http://127.0.0.1:8765/"}, format="json"), 400
    )
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    ok(world.ours.api.post(LIST_URL, {"url": "http://127.0.0.1:8765/"}, format="json"), 201)


def test_an_unknown_event_type_is_refused(world):
    response = world.ours.api.post(
        LIST_URL,
        {"url": "http://127.0.0.1:8765/", "event_types": ["alert.exploded"]},
        format="json",
    )
    body = assert_problem(response, 400)
    assert {e["pointer"] for e in body["errors"]} == {"/event_types/0"}


def test_test_sends_a_webhook_test_event_to_this_endpoint_only(world, receivers, queued):
    receiver = receivers(204)
    created = ok(world.ours.api.post(LIST_URL, {"url": receiver.url}, format="json"), 201)
    other = make_endpoint(world.ours.organization, receiver.url + "/other")
    url = f"{LIST_URL}{created['id']}/"

    delivery = ok(world.ours.api.post(f"{url}test/"), 202)

    assert delivery["event_type"] == "webhook.test"
    assert delivery["status"] == "pending"
    assert delivery["payload"]["data"]["endpoint"]["id"] == created["id"]
    assert not WebhookDelivery.objects.filter(endpoint=other).exists()
    webhook_delivery_attempt(delivery["id"])
    (request,) = receiver.wait_for(1)
    assert request.verifies_with(created["secret"])
    assert json.loads(request.body)["type"] == "webhook.test"


def test_the_deliveries_log_lists_each_delivery_with_its_attempts(world, receivers):
    receiver = receivers(500, 204)
    created = ok(world.ours.api.post(LIST_URL, {"url": receiver.url}, format="json"), 201)
    url = f"{LIST_URL}{created['id']}/"
    webhook_events_record(
        organization=world.ours.organization, event_type="alert.raised", data={"a": 1}
    )
    delivery = WebhookDelivery.objects.get(endpoint_id=created["id"])
    webhook_delivery_attempt(delivery.pk)

    page = ok(world.ours.api.get(f"{url}deliveries/"))

    (shown,) = page["results"]
    assert shown["id"] == str(delivery.pk)
    assert shown["webhook_id"] == delivery.webhook_id
    assert shown["sequence"] == 1
    assert shown["status"] == "pending"
    assert shown["attempts"] == 1
    (attempt,) = shown["attempt_log"]
    assert attempt["status_code"] == 500 and attempt["error"] == "HTTP 500"
    assert attempt["duration_ms"] >= 0 and attempt["started_at"]
    assert shown["payload"] == json.loads(delivery.body)


def test_redeliver_sends_a_delivery_again_with_the_same_webhook_id(world, receivers, queued):
    receiver = receivers(400, 204)
    created = ok(world.ours.api.post(LIST_URL, {"url": receiver.url}, format="json"), 201)
    url = f"{LIST_URL}{created['id']}/"
    webhook_events_record(
        organization=world.ours.organization, event_type="alert.raised", data={"a": 1}
    )
    delivery = WebhookDelivery.objects.get(endpoint_id=created["id"])
    assert webhook_delivery_attempt(delivery.pk).status == DeliveryStatus.FAILED
    queued.clear()

    again = ok(world.ours.api.post(f"{url}deliveries/{delivery.pk}/redeliver/"), 202)

    assert again["status"] == "pending"
    assert webhook_delivery_attempt(delivery.pk).status == DeliveryStatus.SUCCEEDED
    first, second = receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id == delivery.webhook_id
    assert first.body == second.body


def test_redeliver_of_another_endpoints_delivery_is_404(world):
    ours = make_endpoint(world.ours.organization, "http://127.0.0.1:9/a")
    theirs = make_endpoint(world.theirs.organization, "http://127.0.0.1:9/b")
    webhook_events_record(
        organization=world.theirs.organization, event_type="alert.raised", data={}
    )
    delivery = WebhookDelivery.objects.get(endpoint=theirs)
    response = world.ours.api.post(f"{LIST_URL}{ours.pk}/deliveries/{delivery.pk}/redeliver/")
    assert_problem(response, 404, "not_found")


def test_enabling_a_disabled_endpoint_clears_its_reason(world):
    endpoint = make_endpoint(
        world.ours.organization,
        "http://127.0.0.1:9/a",
        is_active=False,
        disabled_reason="The receiver answered 410 Gone.",
        consecutive_failures=3,
    )
    url = f"{LIST_URL}{endpoint.pk}/"
    assert_problem(world.ours.api.post(f"{url}test/"), 409, "state_conflict")
    body = ok(world.ours.api.patch(url, {"is_active": True}, format="json", HTTP_IF_MATCH='"1"'))
    assert body["is_active"] and body["disabled_reason"] == "" and body["consecutive_failures"] == 0
    body = ok(world.ours.api.patch(url, {"is_active": False}, format="json", HTTP_IF_MATCH='"2"'))
    assert body["disabled_reason"].startswith("Disabled by api-key:")
