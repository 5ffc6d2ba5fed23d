"""ETag and If-Match: optimistic concurrency over HTTP.

A single-object GET answers `ETag: "<version>"`. PATCH, PUT and DELETE must send it back in
If-Match: 428 when missing, 412 when stale. The version check happens inside the write
(core.concurrency.claim_version), so of two concurrent writers with one ETag exactly one wins.
"""

import re

from core.errors import DomainError, PreconditionFailed

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')


class PreconditionRequired(DomainError):
    status = 428
    code = "precondition_required"
    title = "If-Match is required"


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version the client read, from If-Match; None for `*` (any version)."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "Send the ETag of your last GET in If-Match, so that you do not overwrite a change you have not seen."
        )
    if if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.split(",")[0])
    if not match:
        raise PreconditionFailed(f"If-Match {if_match!r} matches no version of this object.")
    return int(match.group(1))
