"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is `whsec_` followed by the base64 of 24 to 64 random bytes. A request carries
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`: `v1,<base64 of
HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`. Signing the id and the timestamp with
the body stops a replay of an old body under a fresh timestamp. During a secret rotation
the header carries one signature per live secret, separated by spaces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
SECRET_DEFAULT_BYTES = 32


class InvalidSecret(ValueError):
    """The text is not a Standard Webhooks secret."""


def secret_generate(nbytes: int = SECRET_DEFAULT_BYTES) -> str:
    """A new random secret in the Standard Webhooks format."""
    if not SECRET_MIN_BYTES <= nbytes <= SECRET_MAX_BYTES:
        raise ValueError(f"A secret has {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes.")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of `secret`; raises InvalidSecret unless it is `whsec_` + 24..64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"A webhook secret starts with {SECRET_PREFIX!r}.")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("A webhook secret is base64 after its prefix.") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise InvalidSecret(
            f"A webhook secret holds {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes, not {len(key)}."
        )
    return key


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>`: the signature of one request under one secret."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    *, secrets: Sequence[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, with a signature for each secret (newest first)."""
    if not secrets:
        raise ValueError("At least one secret signs a request.")
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
            for secret in secrets
        ),
    }
