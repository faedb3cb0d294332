"""Numbers as people write them: exact rounding, fast comparison, plain formatting."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: Floats up to this size hold every whole number exactly (and JSON encoders take them as integers).
EXACT_INTEGER_LIMIT = 2**53


def to_decimal(number: float | int) -> Decimal:
    """The decimal a person typed: a float's shortest representation, not its binary expansion."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def native(threshold: Decimal) -> int | float:
    """A threshold as a native number for fast comparison with the case's numbers.

    Inputs are parsed from decimal text to the nearest float, and so is the threshold here;
    rounding to nearest is monotonic, so ``input <= threshold`` as floats agrees with the
    comparison of the decimals written (to the 15 significant digits a float holds).
    Comparing a float with the ``Decimal`` itself would compare the float's binary expansion
    (``0.1 > Decimal("0.1")``) and is several times slower.
    """
    return int(threshold) if threshold == threshold.to_integral_value() else float(threshold)


def round_half_up(value: float, places: int) -> float:
    """``value`` rounded half-up to ``places`` decimals, as a person rounds the number written
    (``0.1995`` -> ``0.2``, where binary rounding would give ``0.199``)."""
    if round(value, places) == value:  # already at that precision: nothing to round
        return value
    return float(to_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def plain(value: Decimal | int | float) -> str:
    """A number as a person writes it: ``8`` not ``8.00`` or ``8.0``, ``0.2`` not ``0.200``."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) <= EXACT_INTEGER_LIMIT else repr(value)
    return str(value)


def as_written(value: float | None) -> float | int | None:
    """A number for the ``inputs`` object as the coordinator wrote it: ``72``, not ``72.0``.

    Huge values (1e20 weeks is valid input) stay floats: beyond 2**53 a float is no longer
    an exact whole number, and JSON encoders refuse integers beyond 64 bits.
    """
    if value is not None and value.is_integer() and -EXACT_INTEGER_LIMIT <= value <= EXACT_INTEGER_LIMIT:
        return int(value)
    return value
