"""Idempotency-Key on POST, and If-Match under concurrent writers, over HTTP.

The semantics of the IETF httpapi draft (core/api/idempotency.py): the same key and body
replay the first response; the same key with another body is 422; the same key while the
first request runs is 409; keys are scoped per API key; a 4xx is replayed, a 5xx releases
the key. The concurrent tests run real threads against PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from core.api.idempotency import REPLAYED_HEADER, request_fingerprint
from core.models import IdempotencyRecord
from licensing.models import Exporter, LicenseApplication, OrganizationAPIKey, StatusChange
from licensing.services import exporters as exporter_services
from tests.api.contract import World, assert_problem, key_client, ok, table_counts
from tests.api.test_contract import application_body, exporter_body, rule_body, shipment_body
from tests.factories import LicenseApplicationFactory

EXPORTERS = "/api/v1/exporters/"
APPLICATIONS = "/api/v1/license-applications/"

CREATES: dict[str, tuple[str, Callable[[World], dict]]] = {
    "exporters": (EXPORTERS, lambda world: exporter_body()),
    "license-applications": (APPLICATIONS, application_body),
    "shipments": ("/api/v1/shipments/", shipment_body),
    "threshold-rules": ("/api/v1/threshold-rules/", lambda world: rule_body()),
}


def post(client: APIClient, url: str, body: Any, key: str | None = "order-4711", **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, body, format="json", **headers)


def scope_of(key: str) -> str:
    """The scope of an API key's Idempotency-Keys (OrganizationScopedViewSet.idempotency_scope)."""
    prefix = key.partition(".")[0]
    return f"api-key:{OrganizationAPIKey.objects.get(prefix=prefix).pk}"


# --- replay, reuse, in-flight -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("resource", list(CREATES))
def test_the_same_key_and_body_replay_the_first_response(world, resource):
    url, body = CREATES[resource]
    first = post(world.ours.api, url, body(world))
    created = ok(first, 201)
    assert not first.has_header(REPLAYED_HEADER)
    counts = table_counts()

    again = post(world.ours.api, url, body(world))

    assert again.status_code == 201
    assert again.json() == created
    assert again[REPLAYED_HEADER] == "true"
    assert (again["Location"], again["ETag"]) == (first["Location"], first["ETag"])
    assert table_counts() == counts


@pytest.mark.django_db
def test_a_replay_ignores_key_order_and_whitespace(world):
    first = ok(post(world.ours.api, EXPORTERS, exporter_body()), 201)
    reordered = json.dumps(dict(reversed(exporter_body().items())), indent=4).encode()

    again = world.ours.api.generic(
        "POST",
        EXPORTERS,
        reordered,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="order-4711",
    )

    assert again.status_code == 201 and again[REPLAYED_HEADER] == "true"
    assert again.json() == first


@pytest.mark.django_db
def test_a_replay_answers_the_first_response_even_after_a_change(world):
    first = ok(post(world.ours.api, EXPORTERS, exporter_body()), 201)
    ok(world.ours.api.patch(first["url"], {"name": "Renamed"}, format="json", HTTP_IF_MATCH='"1"'))

    again = post(world.ours.api, EXPORTERS, exporter_body())

    assert again.json() == first
    assert again["ETag"] == '"1"'
    assert Exporter.objects.get(pk=first["id"]).name == "Renamed"


@pytest.mark.django_db
def test_the_same_key_with_another_body_or_path_is_422(world):
    ok(post(world.ours.api, EXPORTERS, exporter_body()), 201)
    counts = table_counts()

    other_body = post(world.ours.api, EXPORTERS, exporter_body(name="Another name"))
    other_path = post(world.ours.api, APPLICATIONS, application_body(world))

    for response in (other_body, other_path):
        body = assert_problem(response, 422, "idempotency_key_reused")
        assert "order-4711" in body["detail"]
        assert not response.has_header(REPLAYED_HEADER)
    assert table_counts() == counts


def claim(world: World, body: dict, *, locked_for: dt.timedelta, url: str = EXPORTERS):
    """A claim as a first request leaves it while it runs (or after it died, lease past)."""
    fingerprint = request_fingerprint(SimpleNamespace(method="POST", path=url, data=body))
    now = timezone.now()
    return IdempotencyRecord.objects.create(
        scope=scope_of(world.ours.key),
        key="order-4711",
        fingerprint=fingerprint,
        locked_until=now + locked_for,
        expires_at=now + dt.timedelta(days=1),
    )


@pytest.mark.django_db
def test_the_same_key_while_the_first_request_runs_is_409(world):
    record = claim(world, exporter_body(), locked_for=dt.timedelta(minutes=5))
    counts = table_counts()

    response = post(world.ours.api, EXPORTERS, exporter_body())

    assert_problem(response, 409, "idempotency_key_in_use")
    assert table_counts() == counts
    record.refresh_from_db()
    assert record.state == IdempotencyRecord.State.IN_PROGRESS
    # Another body under the running key is still a reuse: 422, not 409.
    other = post(world.ours.api, EXPORTERS, exporter_body(name="Another name"))
    assert_problem(other, 422, "idempotency_key_reused")


@pytest.mark.django_db
def test_a_key_whose_first_request_died_is_taken_over_after_its_lease(world):
    claim(world, exporter_body(), locked_for=-dt.timedelta(seconds=1))

    response = post(world.ours.api, EXPORTERS, exporter_body())

    created = ok(response, 201)
    assert not response.has_header(REPLAYED_HEADER)
    assert post(world.ours.api, EXPORTERS, exporter_body()).json() == created
    record = IdempotencyRecord.objects.get(key="order-4711")
    assert (record.state, record.response_status) == (IdempotencyRecord.State.COMPLETED, 201)


@pytest.mark.django_db
def test_keys_are_scoped_per_api_key(world):
    another = key_client(world.ours.new_key(name="warehouse"))
    sent: list = []
    for client, url, body, key in (
        (world.ours.api, APPLICATIONS, application_body(world), "shared-1"),
        # another key of the same organization
        (another, APPLICATIONS, application_body(world), "shared-1"),
        (world.ours.api, EXPORTERS, exporter_body(), "shared-2"),
        # another organization's key
        (world.theirs.api, EXPORTERS, exporter_body(), "shared-2"),
    ):
        response = post(client, url, body, key=key)
        sent.append(ok(response, 201))
        assert not response.has_header(REPLAYED_HEADER)

    assert len({body["id"] for body in sent}) == 4
    assert LicenseApplication.objects.filter(organization=world.ours.organization).count() == 2
    assert Exporter.objects.get(pk=sent[3]["id"]).organization == world.theirs.organization
    assert IdempotencyRecord.objects.filter(key__startswith="shared-").count() == 4


@pytest.mark.django_db
def test_an_expired_key_can_be_used_again(world):
    ok(post(world.ours.api, EXPORTERS, exporter_body()), 201)
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    other = exporter_body(name="Hamburg Metals GmbH", country="DE", registration_number="HRB 1")
    response = post(world.ours.api, EXPORTERS, other)

    assert ok(response, 201)["name"] == "Hamburg Metals GmbH"
    assert not response.has_header(REPLAYED_HEADER)


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_refused_request_is_replayed_identically(world):
    first = post(world.ours.api, EXPORTERS, exporter_body(country="XX"))
    problem = assert_problem(first, 400)
    counts = table_counts()

    again = post(world.ours.api, EXPORTERS, exporter_body(country="XX"))

    assert assert_problem(again, 400) == problem
    assert again[REPLAYED_HEADER] == "true"
    assert table_counts() == counts


@pytest.mark.django_db
def test_a_refused_transition_is_replayed_even_when_it_would_now_pass(world):
    application = LicenseApplicationFactory(
        organization=world.ours.organization, exporter=world.ours.exporter, line__item=world.item
    )
    url = f"{APPLICATIONS}{application.pk}/transitions/"
    refused = assert_problem(post(world.ours.api, url, {"to": "accepted"}), 409)
    ok(post(world.ours.api, url, {"to": "submitted"}, key="submit-1"), 201)

    again = post(world.ours.api, url, {"to": "accepted"})

    assert assert_problem(again, 409, "invalid_transition") == refused
    assert StatusChange.objects.filter(application=application).count() == 1


@pytest.mark.django_db
def test_a_server_error_releases_the_key(world, monkeypatch):
    save = exporter_services._save_exporter
    failures = iter([RuntimeError("database went away")])

    def save_once_broken(exporter):
        failure = next(failures, None)
        if failure:
            raise failure
        save(exporter)

    monkeypatch.setattr(exporter_services, "_save_exporter", save_once_broken)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.ours.key}")

    assert_problem(post(client, EXPORTERS, exporter_body()), 500, "server_error")
    assert not IdempotencyRecord.objects.exists()

    retry = post(client, EXPORTERS, exporter_body())
    ok(retry, 201)
    assert not retry.has_header(REPLAYED_HEADER)
    assert Exporter.objects.filter(organization=world.ours.organization).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "ключ-ascii-only", "tab\there", "bell\x07"],
    ids=["empty", "too long", "not ASCII", "tab", "control"],
)
def test_a_malformed_key_is_a_400_problem(world, key):
    counts = table_counts()
    response = post(world.ours.api, EXPORTERS, exporter_body(), key=key.encode().decode("latin-1"))
    assert_problem(response, 400, "invalid")
    assert table_counts() == counts


# --- concurrency on PostgreSQL --------------------------------------------------------------


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(index)` in `count` threads started together; each closes its connections."""
    barrier = threading.Barrier(count, timeout=20)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # the outcome is what the test checks
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def outcome(response) -> tuple[int, bool, dict]:
    return response.status_code, response.has_header(REPLAYED_HEADER), response.json()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize("first_request", ["racing", "held until the others answered"])
def test_twenty_concurrent_posts_with_one_key_create_one_row(world, monkeypatch, first_request):
    others_answered = threading.Event()
    answered = []
    if first_request != "racing":
        create = exporter_services.exporter_create

        def create_when_the_others_answered(**kwargs):
            others_answered.wait(timeout=20)
            return create(**kwargs)

        monkeypatch.setattr(
            "licensing.api.v1.exporters.exporter_create", create_when_the_others_answered
        )

    def send(index: int):
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.ours.key}")
        response = post(client, EXPORTERS, exporter_body())
        answered.append(index)
        if len(answered) == 19:
            others_answered.set()
        return outcome(response)

    results = in_threads(20, send)

    assert all(isinstance(result, tuple) for result in results), results
    statuses = sorted(status for status, _, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    originals = [body for status, replayed, body in results if status == 201 and not replayed]
    assert len(originals) == 1, results
    assert all(body == originals[0] for status, _, body in results if status == 201)
    assert all(
        body["code"] == "idempotency_key_in_use" for status, _, body in results if status == 409
    )
    if first_request != "racing":
        assert statuses == [201] + [409] * 19
    assert Exporter.objects.filter(organization=world.ours.organization).count() == 2
    replay = post(world.ours.api, EXPORTERS, exporter_body())
    assert (replay.status_code, replay.json()) == (201, originals[0])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_two_concurrent_patches_with_one_etag_give_one_200_and_one_412(world, monkeypatch):
    exporter = world.ours.exporter
    save = exporter_services._save_exporter

    def slow_save(instance):
        # Hold the row (locked by the version claim) while the other writer arrives.
        time.sleep(0.3)
        save(instance)

    monkeypatch.setattr(exporter_services, "_save_exporter", slow_save)
    names = ["Alice Trading", "Bob Trading"]

    def patch(index: int):
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.ours.key}")
        response = client.patch(
            f"{EXPORTERS}{exporter.pk}/", {"name": names[index]}, format="json", HTTP_IF_MATCH='"1"'
        )
        return response.status_code, response.json()

    results = in_threads(2, patch)

    assert sorted(status for status, _ in results) == [200, 412], results
    winner = next(body for status, body in results if status == 200)
    loser = next(body for status, body in results if status == 412)
    assert loser["code"] == "precondition_failed"
    exporter.refresh_from_db()
    assert (exporter.name, exporter.version) == (winner["name"], 2)
