"""The HTTP client of webhook deliveries: pooled, pinned to checked addresses, never redirected.

One httpx.Client per worker process (rebuilt after a fork), with connect and read timeouts
of at most 15 s. The URL, the Host header and TLS SNI stay those of the endpoint, but the
TCP connection goes only to an address core.webhooks.ssrf checked for this request: a
custom httpcore network backend looks the host up in the pins of the current call instead
of asking DNS again, so a rebinding resolver gets no second say. Redirects are returned,
not followed (a 302 to an internal address is just a failed delivery). At most
RESPONSE_EXCERPT_BYTES of the response are read; the rest is dropped with the connection.
"""

from __future__ import annotations

import os
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings

from core.webhooks.ssrf import Target

RESPONSE_EXCERPT_BYTES = 2048
MAX_TIMEOUT_SECONDS = 15.0
USER_AGENT = "export-license-tracker-webhooks/1.0"

# (host, port) -> the checked addresses the connection may go to, for the current call only.
_pins: ContextVar[dict[tuple[str, int], tuple[str, ...]]] = ContextVar("webhook_pins", default={})  # noqa: B039


@dataclass(frozen=True)
class WebhookResponse:
    status_code: int
    headers: httpx.Headers
    excerpt: str
    duration_ms: int


class DeliveryError(Exception):
    """No HTTP answer: a timeout or a connection error (both worth a retry)."""

    def __init__(self, detail: str, *, duration_ms: int, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.duration_ms = duration_ms
        self.timed_out = timed_out


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the addresses pinned for (host, port), never to what DNS says now."""

    def __init__(self) -> None:
        self._system = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = _pins.get().get((host.lower().strip("[]"), port))
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked before connecting.")
        error: Exception | None = None
        for address in addresses[:3]:
            try:
                return self._system.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failure:
                error = failure
        assert error is not None
        raise error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("Webhooks are not sent over Unix sockets.")

    def sleep(self, seconds: float) -> None:
        self._system.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(trust_env=False, retries=0)
        # httpx has no public hook for the network backend: swap in a pool that uses ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=50,
            max_keepalive_connections=20,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=_PinnedBackend(),
        )


_client: httpx.Client | None = None
_client_pid: int | None = None
_client_lock = threading.Lock()


def client() -> httpx.Client:
    """This process's client; a forked worker child builds its own."""
    global _client, _client_pid
    with _client_lock:
        if _client is None or _client_pid != os.getpid():
            _client = httpx.Client(
                transport=_PinnedTransport(),
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            )
            _client_pid = os.getpid()
        return _client


def timeouts() -> httpx.Timeout:
    connect = min(float(settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
    read = min(float(settings.WEBHOOK_READ_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def attempt_budget_seconds() -> float:
    """The longest one attempt may take: connect, then read (with a margin)."""
    timeout = timeouts()
    return float(timeout.connect or 0) + 2 * float(timeout.read or 0) + 5.0


def post(target: Target, *, body: bytes, headers: dict[str, str]) -> WebhookResponse:
    """POST `body` to the checked `target`; raises DeliveryError when no answer comes."""
    # Keyed as httpcore will ask: the host as sent on the wire (IDNA-encoded, no brackets).
    wire_host = httpx.URL(target.url).raw_host.decode("ascii").lower()
    token = _pins.set({(wire_host, target.port): target.addresses})
    started = time.monotonic()
    deadline = started + attempt_budget_seconds()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        with client().stream(
            "POST",
            target.url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeouts(),
        ) as response:
            excerpt = bytearray()
            for chunk in response.iter_raw():
                excerpt += chunk
                if len(excerpt) >= RESPONSE_EXCERPT_BYTES or time.monotonic() > deadline:
                    break
            return WebhookResponse(
                status_code=response.status_code,
                headers=response.headers,
                excerpt=bytes(excerpt[:RESPONSE_EXCERPT_BYTES]).decode("utf-8", "replace"),
                duration_ms=elapsed_ms(),
            )
    except httpx.TimeoutException as error:
        raise DeliveryError(
            f"Timed out ({type(error).__name__}) after {elapsed_ms()} ms.",
            duration_ms=elapsed_ms(),
            timed_out=True,
        ) from None
    except httpx.HTTPError as error:
        raise DeliveryError(
            f"Connection failed: {type(error).__name__}: {error}", duration_ms=elapsed_ms()
        ) from None
    finally:
        _pins.reset(token)
