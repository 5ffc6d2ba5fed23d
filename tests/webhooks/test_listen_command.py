"""`manage.py webhook_listen`: verifies with standardwebhooks, prints once per webhook-id."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer

import httpx
import pytest
from django.core.management import CommandError, call_command
from standardwebhooks.webhooks import Webhook

from core.webhooks.signing import secret_generate, signed_headers
from licensing.management.commands.webhook_listen import SeenIds, receiver_handler


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
