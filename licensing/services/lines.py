"""Line inputs shared by applications and shipments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.audit import field_changes, field_values
from licensing.models import ControlledItem


@dataclass(frozen=True)
class LineInput:
    """A line as a caller hands it to a service: an item already looked up, a quantity and unit."""

    item: ControlledItem
    quantity: Decimal
    unit: str
    value: Decimal | None = None
    currency: str = ""


def lines_summary(lines: Iterable[LineInput | Any]) -> list[str]:
    """Lines as the audit trail shows them: "1C905 1000 kg" each (inputs or saved rows)."""
    return [
        f"{line.item.control_code} {Decimal(line.quantity).normalize():f} {line.unit}"
        for line in lines
    ]


def _line_content(line: LineInput | Any) -> tuple[Any, ...]:
    value = getattr(line, "value", None)
    return (
        line.item.pk,
        Decimal(line.quantity).normalize(),
        line.unit,
        None if value is None else Decimal(value).normalize(),
        (getattr(line, "currency", "") or "").upper(),
    )


def lines_equal(saved: Iterable[Any], given: Iterable[LineInput]) -> bool:
    """True when `given` says what the saved lines say, in the same order: nothing to replace.

    Compares every stored fact (value and currency too), not just the audit summary.
    """
    return [_line_content(line) for line in saved] == [_line_content(line) for line in given]


def changes_with_lines(
    before: dict[str, Any], instance: Any, lines: Sequence[LineInput] | None
) -> dict[str, list]:
    """What an update changes, for its audit row: its fields, and its lines when they differ.

    `before` is `field_values(instance)` taken before the edit; `lines` None keeps the lines.
    An empty answer means the update changes nothing (and should write nothing).
    """
    changes = field_changes(before, field_values(instance))
    saved = instance.lines.select_related("item").order_by("position")
    if lines is not None and not lines_equal(saved, lines):
        changes["lines"] = [lines_summary(saved), lines_summary(lines)]
    return changes
