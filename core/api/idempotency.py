"""Idempotency-Key on POST, after the IETF httpapi draft (draft-ietf-httpapi-idempotency-key-header).

- the same key with the same request replays the first response (status and body);
- the same key with a different request gets 422;
- the same key while the first request still runs gets 409;
- keys are scoped per API key (or user) and kept IDEMPOTENCY_KEY_TTL (at least 24 h).

2xx and 4xx responses are stored; on a 5xx or a crash the claim is released so that the
client can retry. The claim is committed before the work starts, in its own transaction,
so concurrent requests see it.

A secret in a response (a webhook endpoint's `secret`, any field core.audit redacts) is
never stored: the record keeps null in its place, so a replay answers the same status and
body with that field null. A secret is shown once, to the request that made it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core.audit import REDACTED_FIELDS
from core.errors import DomainError
from core.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("Location", "ETag")
MAX_KEY_LENGTH = 255


class IdempotencyKeyInUse(DomainError):
    status = 409
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still running"


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with another request"


class InvalidIdempotencyKey(DomainError):
    status = 400
    code = "invalid"
    title = "The Idempotency-Key header is malformed"


@dataclass(frozen=True)
class Claim:
    record: IdempotencyRecord
    replay: bool


def request_fingerprint(request: Request) -> str:
    """Method, path and the parsed body in canonical form: whitespace and key order do not count."""
    body = json.dumps(
        request.data, sort_keys=True, separators=(",", ":"), cls=JSONEncoder, default=str
    )
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


def idempotency_claim(*, scope: str, key: str, fingerprint: str) -> Claim:
    """Claim `key` for a new request, or find the finished one to replay; raises 409/422 errors."""
    now = timezone.now()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                locked_until=now + _lease(),
                expires_at=now + dt.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS),
            )
            return Claim(record=record, replay=False)
    except IntegrityError:
        pass
    with transaction.atomic():
        record = IdempotencyRecord.objects.select_for_update().get(scope=scope, key=key)
        expired = record.expires_at <= now
        abandoned = (
            record.state == IdempotencyRecord.State.IN_PROGRESS and record.locked_until <= now
        )
        if expired or abandoned:
            if abandoned and not expired and record.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {key!r} was first used with a different request."
                )
            record.fingerprint = fingerprint
            record.state = IdempotencyRecord.State.IN_PROGRESS
            record.response_status = None
            record.response_body = ""
            record.response_headers = {}
            record.locked_until = now + _lease()
            record.expires_at = now + dt.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
            record.save()
            return Claim(record=record, replay=False)
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} was first used with a different request; use a new key."
            )
        if record.state == IdempotencyRecord.State.IN_PROGRESS:
            raise IdempotencyKeyInUse(
                f"The first request with Idempotency-Key {key!r} is still running."
            )
        return Claim(record=record, replay=True)


def without_secrets(data: Any) -> Any:
    """`data` with the value of every secret field (REDACTED_FIELDS), at any depth, as null."""
    if isinstance(data, dict):
        return {
            key: None if key in REDACTED_FIELDS else without_secrets(value)
            for key, value in data.items()
        }
    if isinstance(data, list | tuple):
        return [without_secrets(item) for item in data]
    return data


def idempotency_complete(record: IdempotencyRecord, response: Response) -> None:
    """Store the response for replay, or release the claim when it was a server error."""
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.COMPLETED,
        response_status=response.status_code,
        response_body=json.dumps(without_secrets(response.data), cls=JSONEncoder),
        response_headers={
            name: response[name] for name in _KEPT_HEADERS if response.has_header(name)
        },
    )


def idempotency_purge_expired(*, now: dt.datetime | None = None) -> int:
    """Delete records past their expiry; run daily by Celery beat."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _replay(record: IdempotencyRecord) -> Response:
    headers = dict(record.response_headers)
    headers[REPLAYED_HEADER] = "true"
    response = Response(
        json.loads(record.response_body or "null"), status=record.response_status, headers=headers
    )
    if record.response_status and record.response_status >= 400:
        response.content_type = "application/problem+json"
    return response


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF view method handling POST to honour Idempotency-Key.

    The view must define `idempotency_scope(request) -> str`.
    """

    @wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
            raise InvalidIdempotencyKey(
                f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters."
            )
        claim = idempotency_claim(
            scope=self.idempotency_scope(request), key=key, fingerprint=request_fingerprint(request)
        )
        if claim.replay:
            return _replay(claim.record)
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception as exc:
            try:
                response = self.handle_exception(exc)
            except Exception:
                IdempotencyRecord.objects.filter(pk=claim.record.pk).delete()
                raise
        idempotency_complete(claim.record, response)
        return response

    return wrapper
