"""Fixtures of the webhook tests: loopback allowed, short timeouts, a real receiver."""

from __future__ import annotations

import pytest

from core.webhooks.signing import secret_generate
from licensing.models import WebhookEndpoint
from tests.api.conftest import world  # noqa: F401  (the API contract's fixture)
from tests.webhooks.receiver import Receiver

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]


@pytest.fixture(autouse=True)
def webhook_settings(settings):
    """Loopback receivers allowed, as on a developer machine; no jitter, short timeouts."""
    settings.WEBHOOK_ALLOWED_CIDRS = ["127.0.0.0/8"]
    settings.WEBHOOK_RETRY_SCHEDULE = SCHEDULE
    settings.WEBHOOK_RETRY_JITTER = 0
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 2
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 1
    settings.WEBHOOK_API_BASE_URL = "https://exports.example.com"
    return settings


@pytest.fixture
def receivers():
    """Start receivers with `receivers(*answers)`; all are stopped at the end."""
    started: list[Receiver] = []

    def start(*answers) -> Receiver:
        receiver = Receiver(*(answers or (204,))).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def make_endpoint(organization, url: str, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        organization=organization, url=url, secret=secret_generate(), **fields
    )
