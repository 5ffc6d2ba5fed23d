"""Line inputs shared by applications and shipments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
