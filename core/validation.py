"""Turning Django model validation into the domain's FieldErrors."""

from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from core.errors import FieldErrors


def pointer_errors(error: ValidationError, *, prefix: str = "") -> dict[str, list[str]]:
    """Map a ValidationError to {JSON pointer: messages}, e.g. {"/registration_number": [...]}."""
    if not hasattr(error, "error_dict"):
        return {prefix or "": list(error.messages)}
    result: dict[str, list[str]] = {}
    for field, errors in error.error_dict.items():
        pointer = prefix if field == NON_FIELD_ERRORS else f"{prefix}/{field}"
        result.setdefault(pointer, []).extend(
            message for inner in errors for message in inner.messages
        )
    return result


def validate_instance(
    instance: models.Model, *, prefix: str = "", exclude: Iterable[str] = ()
) -> None:
    """full_clean() the instance; raise FieldErrors with JSON pointers under `prefix`."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as error:
        raise FieldErrors(pointer_errors(error, prefix=prefix)) from None
