"""Turning Django model validation into the domain's FieldErrors, and checks on raw input
shared by the API and the spreadsheet import."""

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


NON_ASCII_DIGITS_MESSAGE = (
    "Use the digits 0-9: this value has digits of another script (such as full-width or "
    "Arabic-Indic digits), which are not read as numbers."
)


def non_ascii_digits_problem(text: str) -> str | None:
    """Why `text`, a date or number as typed, is refused: it has digits other than 0-9.

    Python and Django read full-width "2026" and Arabic-Indic "5" as 2026 and 5, so a value that looks like one
    thing to a reviewer would be stored as another; such input is refused, not converted.
    """
    if text.isascii():
        return None
    if any(char.isnumeric() for char in text if not char.isascii()):
        return NON_ASCII_DIGITS_MESSAGE
    return None
