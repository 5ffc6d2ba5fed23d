"""Identifiers (registration numbers) compared as a reader sees them, not as code points.

Two spellings a person cannot tell apart must not make two records: `HRB 12345`,
`hrb 12345`, `HRB\\u00a012345` and `HRB 12345\\u200b` are one number. Letters of two scripts
in one identifier (a Cyrillic EN, drawn like H, among Latin letters) are refused rather than folded: no
normal form maps one script onto another, and such a mix is a typo or a spoof.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db import models

_WHITESPACE_RUN = re.compile(r"\s+")
# Scripts that are written together in one name (Japanese mixes kana and kanji).
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


def identifier_key(value: str) -> str:
    """The form two identifiers are compared in: NFKC, format characters (zero-width and
    the like) removed, whitespace runs collapsed to one space and trimmed, casefolded."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = _WHITESPACE_RUN.sub(" ", text).strip()
    return unicodedata.normalize("NFKC", text.casefold())


def letter_scripts(value: str) -> set[str]:
    """The scripts of the letters in `value` (digits, spaces and punctuation have none)."""
    scripts = set()
    for char in unicodedata.normalize("NFKC", value):
        if char.isalpha():
            script = unicodedata.name(char, "UNKNOWN").split(" ")[0]
            scripts.add(_SCRIPT_FAMILIES.get(script, script))
    return scripts


def mixed_script_problem(value: str) -> str | None:
    """Why `value` is refused as an identifier when its letters come from several scripts."""
    scripts = letter_scripts(value)
    if len(scripts) <= 1:
        return None
    named = " and ".join(sorted(script.title() for script in scripts))
    return f"Mixes {named} letters, which look alike but differ; type the identifier in one script."


class IdentifierKeyField(models.CharField):
    """Stores `identifier_key` of another field of the row, for unique constraints and lookups.

    Computed in pre_save, which bulk_create calls too, so no write path can leave it stale
    (except QuerySet.update of the source field, which no code does).
    """

    def __init__(self, *args: Any, source: str, **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = identifier_key(getattr(model_instance, self.source) or "")
        setattr(model_instance, self.attname, value)
        return value
