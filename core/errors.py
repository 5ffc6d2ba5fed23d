"""The one exception hierarchy of the domain.

Services raise these; the API maps each to an RFC 9457 problem+json body and the admin
shows its `detail`. Each error names what was wrong and, where it helps, what is allowed.
"""

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400
    code = "invalid"
    title = "The request cannot be carried out"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class FieldErrors(DomainError):
    """One or more fields are invalid; `errors` maps a JSON pointer to messages."""

    status = 400
    code = "invalid_fields"
    title = "Some fields are invalid"

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        self.errors = errors
        summary = "; ".join(
            f"{pointer or '/'}: {' '.join(msgs)}" for pointer, msgs in errors.items()
        )
        super().__init__(detail or summary)


class InvalidTransition(DomainError):
    """The requested status change is not allowed from the current status."""

    status = 409
    code = "invalid_transition"
    title = "This status change is not allowed"

    def __init__(self, *, current: str, requested: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the status is final)"
        super().__init__(
            f"Cannot move from '{current}' to '{requested}'. Allowed from '{current}': "
            f"{allowed_text}.",
            extra={"current_status": current, "allowed_transitions": allowed},
        )


class StateConflict(DomainError):
    """The object's state forbids the operation (for example editing a submitted application)."""

    status = 409
    code = "state_conflict"
    title = "The object's state does not allow this"


class QuantityExceeded(DomainError):
    """A shipment asks for more than the license has left."""

    status = 422
    code = "quantity_exceeded"
    title = "The license does not cover this quantity"


class LicenseNotValid(DomainError):
    """A shipment needs an approved license valid on its ship date."""

    status = 422
    code = "license_not_valid"
    title = "No valid license covers this shipment"


class PreconditionFailed(DomainError):
    """The client's copy is stale: the object changed since it was read (If-Match)."""

    status = 412
    code = "precondition_failed"
    title = "The object has changed since you read it"
