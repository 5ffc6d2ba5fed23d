"""`manage.py webhook_listen`: verifies with standardwebhooks, prints once per webhook-id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command
from standardwebhooks.webhooks import Webhook

from core.webhooks.signing import secret_generate, signed_headers
from licensing.management.commands.webhook_listen import SeenIds, receiver_handler

PROJECT = Path(__file__).resolve().parents[2]
DEMO_SECRET = "whsec_ZGVtby1vbmx5LXNlY3JldC1mb3ItdGhlLWxvb3BiYWNr"


def manage(*args: str) -> subprocess.Popen:
    """`python manage.py ...` as a reader runs it: the default (local) settings."""
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def listener():
    secret = secret_generate()
    lines: list[str] = []
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), receiver_handler(Webhook(secret), SeenIds(), lines.append)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield secret, f"http://127.0.0.1:{server.server_port}/", lines
    server.shutdown()
    server.server_close()


def test_it_prints_a_verified_event_once_and_refuses_a_bad_signature(listener):
    secret, url, lines = listener
    body = b'{"type":"alert.raised","timestamp":"2025-11-13T02:00:00Z","sequence":7,"data":{"a":1}}'
    headers = signed_headers(
        secrets=[secret], webhook_id="msg_1", timestamp=int(time.time()), body=body
    )

    assert httpx.post(url, content=body, headers=headers).status_code == 204
    assert httpx.post(url, content=body, headers=headers).status_code == 204  # a retry
    forged = signed_headers(
        secrets=[secret_generate()], webhook_id="msg_2", timestamp=int(time.time()), body=body
    )
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    assert httpx.post(url, content=body + b" ", headers=headers).status_code == 401

    assert lines[0].startswith('alert.raised #7 msg_1 {"a": 1}')
    assert lines[1] == "duplicate msg_1 (already processed)"
    assert lines[2].startswith("REFUSED msg_2")
    assert len(lines) == 4


def test_a_malformed_secret_is_refused():
    with pytest.raises(CommandError):
        call_command("webhook_listen", "--secret", "", "--port", "0")


def test_a_port_in_use_is_one_line_naming_the_port_and_a_failure_status():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = manage("webhook_listen", "--port", str(port), "--secret", DEMO_SECRET)
        stdout, stderr = process.communicate(timeout=60)

    assert process.returncode != 0
    assert stdout == ""
    assert stderr.splitlines() == [
        f"CommandError: port {port} is already in use on 127.0.0.1; choose another with --port."
    ]


def test_sigterm_stops_the_receiver_quietly_with_status_0():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = manage("webhook_listen", "--port", str(port), "--secret", DEMO_SECRET)
    try:
        assert process.stdout.readline() == f"Listening for webhooks on http://127.0.0.1:{port}/\n"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()

    assert process.returncode == 0
    assert (stdout, stderr) == ("", "")
