"""The README's "Scaling out" commands, run exactly as written, scan and deliver webhooks.

A new user who starts `celery -A config worker ...` as the README shows, plus one beat, must
get delay scans and webhook deliveries: the worker has to consume the `scans` and `webhooks`
queues without being told (`CELERY_TASK_QUEUES` in config/settings/base.py). Before the queues
were declared, such a worker listened on `default` alone and delivered nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest

from core.webhooks.signing import secret_generate
from licensing.models import WebhookDelivery, WebhookEndpoint
from licensing.models.delays import DelayAlert
from tests.delays.conftest import accepted_application, beijing
from tests.delays.test_celery_e2e import CELERY_QUEUES, CeleryProcesses
from tests.webhooks.receiver import Receiver

PROJECT = Path(__file__).resolve().parents[1]
README = PROJECT / "README.md"
WAIT_SECONDS = 90


def scale_out_commands() -> dict[str, str]:
    """The `celery ... worker` and `celery ... beat` commands of the README's Scaling out."""
    section = README.read_text().split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    commands = {}
    for command, kind in re.findall(r"([^\s`]*celery -A config (worker|beat)\b[^`\n]*)", section):
        commands.setdefault(kind, command.strip())
    return commands


def test_the_readme_shows_a_worker_command_without_a_queue_list():
    commands = scale_out_commands()
    assert set(commands) == {"worker", "beat"}, commands
    assert "-Q" not in shlex.split(commands["worker"])


@pytest.mark.redis
@pytest.mark.drill
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_started_as_the_readme_says_runs_the_scan_and_delivers_the_webhook(
    tmp_path, redis_url, postgres_only, organization, exporter, mofcom, time_machine
):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(*CELERY_QUEUES, "unacked", "unacked_index")
    client.close()

    # Accepted on Fri 26 Sep 2025; on 20 Nov it has waited 35 working days: a warning is due.
    now = beijing("2025-11-20")
    time_machine.move_to(now, tick=True)
    application = accepted_application(
        beijing("2025-09-26"), organization=organization, exporter=exporter, authority=mofcom
    )
    receiver = Receiver(204).start()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=receiver.url, secret=secret_generate()
    )

    processes = CeleryProcesses(tmp_path, redis_url)
    processes.env.update(
        PATH=f"{PROJECT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        WEBHOOK_ALLOWED_CIDRS="127.0.0.0/8",
        WEBHOOK_SWEEP_INTERVAL_SECONDS="1",
    )
    commands = scale_out_commands()
    try:
        processes.run("worker", shlex.split(commands["worker"]))
        processes.run("beat", shlex.split(commands["beat"]))
        deadline = time.monotonic() + WAIT_SECONDS
        delivered = WebhookDelivery.objects.filter(endpoint=endpoint, status="succeeded")
        while time.monotonic() < deadline and not delivered.exists():
            processes.check_running()
            time.sleep(0.5)
        if not delivered.exists():
            pytest.fail(f"no webhook delivered within {WAIT_SECONDS} s\n{processes.logs()}")
        logs = processes.logs()
    finally:
        processes.stop()
        receiver.stop()

    alert = DelayAlert.objects.get(application=application)
    assert (alert.level, alert.wait_elapsed) == ("warning", 35)
    assert len(receiver.requests) == 1
    assert receiver.requests[0].verifies_with(endpoint.secret)
    assert json.loads(receiver.requests[0].body)["type"] == "alert.raised"
    # The worker consumed all three queues: the scan runs on `scans`, the delivery on `webhooks`.
    for queue in CELERY_QUEUES:
        assert re.search(rf"\.> {queue}\s", logs), f"worker did not consume {queue}\n{logs}"
