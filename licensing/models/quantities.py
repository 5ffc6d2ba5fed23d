from decimal import Decimal

from django.db import models


class QuantityUnit(models.TextChoices):
    """Units of quantity on application and shipment lines."""

    KILOGRAM = "kg", "kilogram"
    GRAM = "g", "gram"
    TONNE = "t", "tonne"
    PIECE = "pcs", "pieces"


# Mass units convert to kilograms so that a license in tonnes can cover shipments in kg.
_TO_BASE = {
    QuantityUnit.KILOGRAM: ("mass", Decimal(1)),
    QuantityUnit.GRAM: ("mass", Decimal("0.001")),
    QuantityUnit.TONNE: ("mass", Decimal(1000)),
    QuantityUnit.PIECE: ("count", Decimal(1)),
}


def unit_dimension(unit: str) -> str:
    """'mass' or 'count'."""
    return _TO_BASE[QuantityUnit(unit)][0]


def convert_quantity(quantity: Decimal, *, from_unit: str, to_unit: str) -> Decimal:
    """Convert between units of one dimension; raises ValueError across dimensions."""
    from_dimension, from_factor = _TO_BASE[QuantityUnit(from_unit)]
    to_dimension, to_factor = _TO_BASE[QuantityUnit(to_unit)]
    if from_dimension != to_dimension:
        raise ValueError(f"Cannot convert {from_unit} to {to_unit}.")
    return quantity * from_factor / to_factor
