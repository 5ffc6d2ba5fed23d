"""Request ids: one id per request, echoed in X-Request-ID and stamped on what it writes.

The id lives in a context variable so that services, log lines and Celery tasks can read
it without it being threaded through every call.
"""

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is echoed only when it is short and plain, so it cannot inject headers or logs.
_ACCEPTABLE_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_current_request_id: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    """The id of the request (or task) being served, or "" outside of one."""
    return _current_request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def request_id_scope(request_id: str | None = None) -> Iterator[str]:
    """Run a block (a task, a command) under a request id, a fresh one by default."""
    token = _current_request_id.set(request_id or new_request_id())
    try:
        yield _current_request_id.get()
    finally:
        _current_request_id.reset(token)


class RequestIdMiddleware:
    """Assigns the request id, first of all middleware, and returns it in X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        client_id = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = client_id if _ACCEPTABLE_CLIENT_ID.match(client_id) else new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        with request_id_scope(request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True
