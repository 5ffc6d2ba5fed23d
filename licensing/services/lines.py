"""Line inputs shared by applications and shipments."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from licensing.models import ControlledItem


@dataclass(frozen=True)
class LineInput:
    """A line as a caller hands it to a service: an item already looked up, a quantity and unit."""

    item: ControlledItem
    quantity: Decimal
    unit: str
    value: Decimal | None = None
    currency: str = ""
