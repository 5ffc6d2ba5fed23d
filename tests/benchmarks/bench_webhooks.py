"""Issue 5's benchmark: webhook deliveries per second through Celery, and the lag to receipt.

On its own database (`<name>_webhooks`, created and migrated when needed; its webhook tables
are emptied before each repeat) with one organization and one endpoint pointing at a fast
receiver on loopback (ThreadingHTTPServer, HTTP/1.1 keep-alive, answers 204 and records the
time each `webhook-id` arrives). A real worker, `celery -A config worker -Q webhooks,default
--pool prefork --concurrency 2`, runs as a subprocess on Redis (BENCH_CELERY_BROKER_URL,
default redis://127.0.0.1:6379/11, flushed first); it is started and warmed up (a first
batch of deliveries) before anything is measured, and always stopped at the end.

Each repeat, untimed: the webhook tables are truncated and the receiver's log is cleared.
Then, for each side (alternating which goes first):
- worker: EVENTS `alert.raised` events are recorded through the service
  (`webhook_events_record_many`, one transaction, as the delay scan records what it raised);
  on commit their delivery tasks are queued and the worker delivers them (claim, sign, POST,
  record the attempt). Deliveries per second run from the first receipt to the last; the
  lag of each delivery is its receipt time minus its event's `created_at` (the raise).
- bare: one httpx.Client posts the same bodies, signed the same way (core.webhooks.signing,
  signed in the loop as the worker signs per attempt), to the same receiver, one after
  another; deliveries per second from the first receipt to the last.

- `webhook_deliveries_per_s`, `webhook_bare_httpx_per_s`: medians over the repeats.
- `webhook_deliveries_vs_bare_httpx`: the median of the per-repeat ratios. No target in
  the issue, so none is printed.
- `webhook_lag_p50`, `webhook_lag_p95`: over every delivery of every repeat. All EVENTS are
  raised at once, so the lag includes the wait in the queue behind the earlier ones: p95 is
  close to EVENTS / deliveries per second. It is the lag under a burst, not of a lone alert.

Every repeat checks that all EVENTS deliveries succeeded and that each webhook-id arrived,
and a sample of received requests is verified with the `standardwebhooks` package.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from django.db import connection, transaction
from django.test import override_settings

from core.actors import Actor
from core.webhooks.signing import signed_headers
from licensing.models import (
    DeliveryStatus,
    Organization,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from licensing.services.webhooks import (
    EventInput,
    webhook_endpoint_create,
    webhook_events_record_many,
)
from tests.benchmarks import measure
from tests.benchmarks.databases import (
    PROJECT_DIR,
    database_url,
    ensure_database,
    switch_database,
)

EVENTS = 2_000
WARM_UP_EVENTS = 40
REPEATS = 3
CONCURRENCY = 2
DELIVERY_TIMEOUT_SECONDS = 90.0
WORKER_START_TIMEOUT_SECONDS = 60.0
BROKER_URL = os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
ALLOWED_CIDRS = "127.0.0.0/8"
ORGANIZATION = "bench webhooks org"
CELERY = PROJECT_DIR / ".venv" / "bin" / "celery"


# -- the receiver --------------------------------------------------------------------------------


class Receiver:
    """Answers 204 to every POST; records, per webhook-id, when it arrived and its headers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # webhook-id -> (time.time(), time.perf_counter(), headers, body)
        self.received: dict[str, tuple[float, float, dict[str, str], bytes]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                wall, mono = time.time(), time.perf_counter()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.received.setdefault(
                        headers.get("webhook-id", ""), (wall, mono, headers, body)
                    )
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def snapshot(self) -> dict[str, tuple[float, float, dict[str, str], bytes]]:
        with self.lock:
            return dict(self.received)

    def rate(self) -> float:
        """Receipts per second, from the first receipt to the last."""
        times = sorted(mono for _, mono, _, _ in self.snapshot().values())
        return (len(times) - 1) / (times[-1] - times[0])


# -- the worker ------------------------------------------------------------------------------


class Worker:
    """`celery worker` (prefork, CONCURRENCY children) in its own process group, logged to a file."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.log_path = workdir / "worker.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(name),
            "CELERY_BROKER_URL": BROKER_URL,
            "WEBHOOK_ALLOWED_CIDRS": ALLOWED_CIDRS,
            "VAR_DIR": str(workdir / "var"),
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
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
                    str(CONCURRENCY),
                    "--hostname",
                    f"bench-{uuid.uuid4().hex[:8]}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=PROJECT_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_running(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"The Celery worker exited early:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-10_000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


@contextmanager
def _queued_on(broker_url: str):
    """`deliver_webhook.apply_async` publishes to the worker's broker (the test settings'
    own broker is `memory://`), as in the fault drills; the service path is unchanged."""
    from celery import Celery

    from licensing.tasks import deliver_webhook

    producer = Celery("bench-producer", broker=broker_url, set_as_current=False)
    producer.conf.broker_connection_timeout = 2
    producer.conf.broker_connection_retry = False

    def apply_async(args, countdown=None, retry=True, **options):
        return producer.send_task(
            deliver_webhook.name, args=args, countdown=countdown, queue="webhooks", retry=retry
        )

    try:
        with mock.patch.object(deliver_webhook, "apply_async", apply_async):
            yield
    finally:
        producer.close()


def _flush_broker() -> None:
    import redis

    client = redis.Redis.from_url(BROKER_URL)
    try:
        client.flushdb()
    finally:
        client.close()


# -- the database ----------------------------------------------------------------------------


def _truncate(*, endpoints: bool = False) -> None:
    models = [WebhookAttempt, WebhookDelivery, WebhookEvent]
    if endpoints:
        models.append(WebhookEndpoint)
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def _endpoint(url: str) -> WebhookEndpoint:
    _truncate(endpoints=True)
    organization, _ = Organization.objects.get_or_create(name=ORGANIZATION)
    with override_settings(WEBHOOK_ALLOWED_CIDRS=[ALLOWED_CIDRS]):
        return webhook_endpoint_create(
            organization=organization,
            actor=Actor.system("bench"),
            url=url,
            description="make bench",
        )


def _event_data(index: int) -> dict[str, Any]:
    """The shape of an alert's event data (see alert_event_data), with made-up ids."""
    alert_id, application_id, shipment_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    base = "https://exports.example.com/api/v1"
    return {
        "alert": {
            "id": str(alert_id),
            "url": f"{base}/alerts/{alert_id}/",
            "kind": "delay",
            "level": "warning",
            "repeat_index": 0,
            "state": "open",
            "message": f"Application {index} has waited 31 working days (warning at 30).",
            "wait": {"elapsed": 31, "unit": "working_days"},
            "raised_at": "2025-06-18T04:00:00Z",
            "resolved_at": None,
            "resolution": "",
            "escalates": None,
            "shipments": [{"id": str(shipment_id), "url": f"{base}/shipments/{shipment_id}/"}],
            "shipments_count": 1,
        },
        "application": {
            "id": str(application_id),
            "url": f"{base}/license-applications/{application_id}/",
            "status": "under_review",
            "authority_reference": f"MOFCOM-2025-{index:06d}",
            "license_number": "",
            "statutory_deadline": "2025-07-15",
            "valid_until": None,
        },
        "shipment": None,
    }


def _record(organization_id: Any, count: int) -> None:
    """Raise `count` alerts' events in one transaction; their tasks are queued on commit."""
    events = [EventInput(organization_id, "alert.raised", _event_data(i)) for i in range(count)]
    with _queued_on(BROKER_URL), transaction.atomic():
        webhook_events_record_many(events)


def _wait_delivered(receiver: Receiver, worker: Worker, count: int, timeout: float) -> None:
    """Until `count` webhook-ids arrived and as many deliveries are recorded as succeeded."""
    deadline = time.monotonic() + timeout
    while receiver.count() < count:
        worker.check_running()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{receiver.count()} of {count} deliveries arrived within {timeout:.0f} s\n"
                f"{worker.log()}"
            )
        time.sleep(0.01)
    succeeded = WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED)
    while succeeded.count() < count:  # the worker records the last outcomes
        worker.check_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"{succeeded.count()} of {count} deliveries recorded as succeeded")
        time.sleep(0.05)


# -- the sides -------------------------------------------------------------------------------


def _worker_side(
    receiver: Receiver,
    worker: Worker,
    endpoint: WebhookEndpoint,
    lags: list[float],
    recording: list[float],
) -> float:
    _truncate()
    receiver.clear()
    started = time.perf_counter()
    _record(endpoint.organization_id, EVENTS)
    recording.append(time.perf_counter() - started)
    _wait_delivered(receiver, worker, EVENTS, DELIVERY_TIMEOUT_SECONDS)
    received = receiver.snapshot()
    raised = dict(WebhookDelivery.objects.values_list("webhook_id", "event__created_at"))
    if set(received) != set(raised):
        raise AssertionError("The receiver got other webhook-ids than the deliveries recorded.")
    lags.extend(received[webhook_id][0] - at.timestamp() for webhook_id, at in raised.items())
    _verify_sample(received, endpoint.secret)
    return receiver.rate()


def _bare_side(receiver: Receiver, endpoint: WebhookEndpoint, bodies: list[tuple[str, bytes]]):
    receiver.clear()
    url = endpoint.url
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=15.0) as client:
        for webhook_id, body in bodies:
            headers = signed_headers(
                secrets=[endpoint.secret],
                webhook_id=webhook_id,
                timestamp=int(time.time()),
                body=body,
            )
            response = client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
            if response.status_code != 204:
                raise AssertionError(f"The receiver answered {response.status_code} to httpx.")
    if receiver.count() != len(bodies):
        raise AssertionError(f"{receiver.count()} of {len(bodies)} bare posts arrived.")
    _verify_sample(receiver.snapshot(), endpoint.secret)
    return receiver.rate()


def _verify_sample(received: dict, secret: str, size: int = 10) -> None:
    from standardwebhooks.webhooks import Webhook

    for _, _, headers, body in list(received.values())[:: max(1, len(received) // size)]:
        Webhook(secret).verify(body, headers)


def _bodies() -> list[tuple[str, bytes]]:
    return [
        (webhook_id, body.encode("utf-8"))
        for webhook_id, body in WebhookDelivery.objects.order_by("sequence").values_list(
            "webhook_id", "body"
        )
    ]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- the benchmark ---------------------------------------------------------------------------


def run(name: str) -> None:
    """Create/migrate `name` (bench*) if needed, switch to it, measure, print the lines."""
    measure.console_logging_to_devnull()
    ensure_database(name)
    switch_database(name)
    _flush_broker()
    started = time.perf_counter()
    receiver = Receiver().start()
    worker: Worker | None = None
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as workdir:
        try:
            endpoint = _endpoint(receiver.url)
            worker = Worker(name, Path(workdir))
            # Warm-up (untimed): the worker is up, its children have imported Django, opened
            # their database connections and built their HTTP clients.
            _record(endpoint.organization_id, WARM_UP_EVENTS)
            _wait_delivered(receiver, worker, WARM_UP_EVENTS, WORKER_START_TIMEOUT_SECONDS)
            bodies = _bodies()
            _bare_side(receiver, endpoint, bodies)
            measure.note(
                f"webhooks: database {name}, worker ready after "
                f"{time.perf_counter() - started:.0f} s; {EVENTS:,} deliveries per side, "
                f"{REPEATS} repeats, broker {BROKER_URL}"
            )
            worker_rates: list[float] = []
            bare_rates: list[float] = []
            lags: list[float] = []
            recording: list[float] = []  # seconds to record and queue EVENTS (context)
            for repeat in range(REPEATS):
                if repeat % 2 == 0:
                    worker_rates.append(_worker_side(receiver, worker, endpoint, lags, recording))
                    bodies = _bodies()
                    bare_rates.append(_bare_side(receiver, endpoint, bodies))
                else:
                    bare_rates.append(_bare_side(receiver, endpoint, bodies))
                    worker_rates.append(_worker_side(receiver, worker, endpoint, lags, recording))
                    bodies = _bodies()
        finally:
            if worker is not None:
                worker.stop()
            receiver.stop()
            _flush_broker()
    measure.report("webhook_deliveries_per_s", statistics.median(worker_rates), digits=0)
    measure.report("webhook_bare_httpx_per_s", statistics.median(bare_rates), digits=0)
    measure.report(
        "webhook_deliveries_vs_bare_httpx",
        statistics.median(w / b for w, b in zip(worker_rates, bare_rates, strict=True)),
        digits=3,
    )
    measure.report("webhook_lag_p50", _percentile(lags, 0.50) * 1000, unit=" ms", digits=0)
    measure.report("webhook_lag_p95", _percentile(lags, 0.95) * 1000, unit=" ms", digits=0)
    measure.note(
        f"webhooks: recording {EVENTS:,} events and queueing their tasks took "
        f"{statistics.median(recording):.1f} s (median; deliveries start meanwhile); the first "
        f"receipt came {min(lags) * 1000:.0f} ms after its raise, the last "
        f"{max(lags) * 1000:.0f} ms"
    )
    measure.note(f"webhooks took {time.perf_counter() - started:.0f} s")
