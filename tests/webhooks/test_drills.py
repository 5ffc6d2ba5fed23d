"""Fault drills: a real Celery worker, real Redis and a real receiver on loopback.

Each drill records events in the test process (committed: the worker is another process
reading the test database), lets a `celery worker` subprocess deliver them, breaks
something on purpose, and checks what reached the receiver. PostgreSQL and Redis only;
skipped with the reason otherwise, and failing instead when REQUIRE_SERVICES=1. Every wait
is bounded; the workers' logs are printed when a drill fails.

The test process queues delivery tasks through a Celery app bound to the drill's broker
(the suite's own Celery app points at `memory://`), so the service code path is unchanged:
`webhook_events_record` -> on commit -> `deliver_webhook.apply_async`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import transaction

from licensing.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from licensing.services.webhooks import INTERRUPTED_ATTEMPT, webhook_events_record
from licensing.tasks import deliver_webhook
from tests.webhooks.conftest import make_endpoint
from tests.webhooks.receiver import Answer

PROJECT = Path(__file__).resolve().parents[2]
CELERY = PROJECT / ".venv" / "bin" / "celery"
READ_TIMEOUT = 2

pytestmark = [
    pytest.mark.drill,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def database_url() -> str:
    """The URL of the database this test runs on: the *test* database, by name."""
    db = settings.DATABASES["default"]
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, processes=None) -> float:
    """Poll `condition` until true; returns the seconds it took, fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if processes is not None:
            processes.check_running()
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    logs = processes.logs() if processes is not None else ""
    pytest.fail(f"{what}: not within {timeout} s\n{logs}")


class Processes:
    """Celery workers, beat and redis-server as subprocesses, logs kept in files."""

    def __init__(self, workdir: Path, broker_url: str) -> None:
        self.workdir = workdir
        self.broker_url = broker_url
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "VAR_DIR": str(workdir / "var"),
            "PYTHONUNBUFFERED": "1",
            "WEBHOOK_ALLOWED_CIDRS": "127.0.0.0/8",
            "WEBHOOK_RETRY_SCHEDULE": "0,1,1,1,1,1,1,1",
            "WEBHOOK_RETRY_JITTER": "0",
            "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "2",
            "WEBHOOK_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
            "WEBHOOK_SWEEP_INTERVAL_SECONDS": "1",
            "WEBHOOK_SWEEP_GRACE_SECONDS": "2",
            "CELERY_VISIBILITY_TIMEOUT": "5",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.count = 0

    def start(self, name: str, command: list[str], **popen) -> subprocess.Popen:
        self.count += 1
        log = (self.workdir / f"{self.count:02d}-{name}.log").open("wb")
        process = subprocess.Popen(
            command,
            cwd=PROJECT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a crash kills the children too
            **popen,
        )
        log.close()
        self.processes[name] = process
        return process

    def worker(self, name: str = "worker") -> subprocess.Popen:
        return self.start(
            name,
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "-Q",
                "webhooks,default",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--hostname",
                f"drill-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
        )

    def beat(self) -> subprocess.Popen:
        return self.start("beat", [str(CELERY), "-A", "config", "beat", "--loglevel", "INFO"])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, sig)
        process.wait(timeout=10)

    def check_running(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited early\n{self.logs()}"

    def logs(self) -> str:
        return "\n".join(
            f"----- {path.name} -----\n{path.read_text(errors='replace')[-20_000:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.processes.clear()


def _bind_producer(monkeypatch, broker_url: str) -> Celery:
    """Make `deliver_webhook.apply_async` publish to the drill's broker, as a worker would."""
    producer = Celery("drill-producer", broker=broker_url, set_as_current=False)
    producer.conf.broker_connection_timeout = 1
    producer.conf.broker_connection_retry = False

    def apply_async(args, countdown=None, retry=True, **options):
        return producer.send_task(
            deliver_webhook.name, args=args, countdown=countdown, queue="webhooks", retry=retry
        )

    monkeypatch.setattr(deliver_webhook, "apply_async", apply_async)
    return producer


@pytest.fixture
def drill(request, tmp_path, redis_url, postgres_only, monkeypatch, webhook_settings):
    """Processes on the suite's Redis (flushed first); always stopped, logs shown on failure."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    processes = Processes(tmp_path, redis_url)
    producer = _bind_producer(monkeypatch, redis_url)
    yield processes
    processes.stop()
    producer.close()
    print(processes.logs())


def record(organization, count: int = 1, event_type: str = "alert.raised") -> None:
    for index in range(count):
        with transaction.atomic():
            webhook_events_record(
                organization=organization, event_type=event_type, data={"index": index}
            )


def deliveries(endpoint) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("sequence"))


def delivered(endpoint, count: int):
    def check() -> bool:
        done = WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)
        return done.count() >= count

    return check


# -- the drills ------------------------------------------------------------------------------


def test_retries_500_three_times_then_200_is_delivered_with_one_webhook_id(
    drill, organization, receivers
):
    receiver = receivers(500, 500, 500, 200)
    endpoint = make_endpoint(organization, receiver.url)
    drill.worker()

    record(organization)

    took = wait_until(delivered(endpoint, 1), 60, "delivery after three 500s", drill)
    requests = receiver.wait_for(4)
    (delivery,) = deliveries(endpoint)
    assert [r.webhook_id for r in requests] == [delivery.webhook_id] * 4
    assert all(r.verifies_with(endpoint.secret) for r in requests)
    assert {r.body for r in requests} == {delivery.body.encode()}
    assert delivery.attempts == 4
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 500, 500, 200]
    print(f"drill retries: delivered after 4 attempts in {took:.1f} s")


def test_timeouts_a_hanging_receiver_is_cut_off_while_others_keep_flowing(
    drill, organization, receivers
):
    hanging = receivers(Answer(hang=True))
    healthy = receivers(204)
    stuck = make_endpoint(organization, hanging.url)
    flowing = make_endpoint(organization, healthy.url)
    drill.worker()

    record(organization, count=5)

    took = wait_until(delivered(flowing, 5), 60, "the healthy endpoint's deliveries", drill)
    # An attempt's row is opened before its request is sent: the one in flight has no outcome
    # (and no duration) yet. The finished ones all timed out.
    finished = WebhookAttempt.objects.filter(delivery__endpoint=stuck, duration_ms__isnull=False)
    wait_until(lambda: finished.count() >= 2, 30, "two timed-out attempts", drill)
    attempts = list(finished)
    assert all("Timed out" in a.error and a.status_code is None for a in attempts)
    assert all(a.duration_ms < (READ_TIMEOUT + 1.5) * 1000 for a in attempts), [
        a.duration_ms for a in attempts
    ]
    assert {d.status for d in deliveries(stuck)} == {DeliveryStatus.PENDING}  # still retried
    assert len({r.webhook_id for r in healthy.requests}) == 5
    print(f"drill timeouts: 5 deliveries flowed in {took:.1f} s past a hanging receiver")


def test_worker_crash_mid_delivery_the_task_is_redelivered_and_completes(
    drill, organization, receivers
):
    receiver = receivers(Answer(hang=True), 204)
    endpoint = make_endpoint(organization, receiver.url)
    drill.worker("first-worker")

    record(organization)
    wait_until(receiver.hanging.is_set, 30, "the first attempt to reach the receiver", drill)
    drill.kill("first-worker")  # SIGKILL to the worker and its pool child, mid-request
    receiver.release()
    killed_at = time.monotonic()
    drill.worker("second-worker")

    wait_until(delivered(endpoint, 1), 90, "delivery after the crash", drill)
    took = time.monotonic() - killed_at
    (delivery,) = deliveries(endpoint)
    requests = receiver.wait_for(2)
    assert {r.webhook_id for r in requests} == {delivery.webhook_id}
    assert all(r.verifies_with(endpoint.secret) for r in requests)
    assert "deliver_webhook" in drill.logs()
    # The killed attempt stays in the log, marked interrupted, before the one that succeeded.
    log = list(delivery.attempt_log.all())
    assert [(a.status_code, a.error) for a in log] == [(None, INTERRUPTED_ATTEMPT), (204, "")]
    assert delivery.attempts == 2
    print(f"drill worker crash: delivered {took:.1f} s after SIGKILL")


def test_broker_outage_every_event_is_delivered_and_processed_once(
    drill, organization, receivers, monkeypatch, tmp_path
):
    port = spare_port()
    broker_url = f"redis://127.0.0.1:{port}/0"
    drill.env["CELERY_BROKER_URL"] = broker_url
    _bind_producer(monkeypatch, broker_url)
    redis_command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    redis_command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    redis_command += ["--dir", str(tmp_path)]
    drill.start("redis", redis_command)
    wait_until(lambda: _redis_answers(broker_url), 10, "redis-server to start")
    receiver = receivers(204)
    endpoint = make_endpoint(organization, receiver.url)
    drill.worker()
    drill.beat()

    record(organization)
    wait_until(delivered(endpoint, 1), 30, "the first delivery", drill)

    drill.kill("redis", signal.SIGTERM)
    outage_started = time.monotonic()
    record(organization, count=5)  # on-commit publishing fails: the rows wait in the outbox
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 5
    time.sleep(2)
    drill.start("redis", redis_command)  # empty: whatever was queued before is gone
    wait_until(lambda: _redis_answers(broker_url), 10, "redis-server to restart")

    took = wait_until(delivered(endpoint, 6), 120, "every event after the outage", drill)
    ids = [delivery.webhook_id for delivery in deliveries(endpoint)]
    on_the_wire = [request.webhook_id for request in receiver.requests]
    processed = list(dict.fromkeys(on_the_wire))  # a consumer deduplicating on webhook-id
    assert sorted(processed) == sorted(ids)
    assert set(on_the_wire) == set(ids)  # any duplicate carries a known id
    assert all(request.verifies_with(endpoint.secret) for request in receiver.requests)
    print(
        f"drill broker outage: 6/6 delivered {took:.1f} s after Redis came back "
        f"({time.monotonic() - outage_started:.1f} s after it stopped); "
        f"{len(on_the_wire) - len(processed)} duplicates on the wire"
    )


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def test_gone_410_disables_and_a_redirect_to_an_internal_address_is_not_followed(
    drill, organization, other_organization, receivers
):
    gone = receivers(410)
    internal = receivers(204)
    redirecting = receivers(Answer(302, {"Location": internal.url}))
    gone_endpoint = make_endpoint(organization, gone.url)
    redirect_endpoint = make_endpoint(other_organization, redirecting.url)
    drill.worker()

    record(organization)
    record(other_organization)

    def settled() -> bool:
        return not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()

    took = wait_until(settled, 60, "both deliveries to settle", drill)
    gone_endpoint.refresh_from_db()
    assert not gone_endpoint.is_active
    assert "410" in gone_endpoint.disabled_reason
    (redirected,) = deliveries(redirect_endpoint)
    assert redirected.status == DeliveryStatus.FAILED
    assert redirected.last_status_code == 302
    assert internal.requests == []
    assert WebhookEndpoint.objects.get(pk=redirect_endpoint.pk).is_active
    print(f"drill gone: settled in {took:.1f} s")
