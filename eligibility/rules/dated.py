"""Current values (criteria-v2 sections 3.2 and 3.3): one test for every dated item, with its texts.

A value dated d, judged against an anchor date A (a treatment date) and, where the rule set holds
one, a window W in days, is *current* when d and A are recorded, d is not after A (rule 17's dated
mode allows some days after), and A - d <= W. A value that is not current counts as not
recorded: the rule gives ``missing`` for it, and its reason quotes the value with the text
:func:`not_current` returns.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .arithmetic import EXACT_INTEGER_LIMIT, as_written, native
from .vocabulary import count, measure

#: Results remembered per measurement (a frozen, hashable struct): laboratory values repeat across cases
#: and rules (platelets are read by rules 36 and 37), while the rules' combinations of them do not.
MEMORY = 65536


def days(number: int) -> str:
    """A whole number of days: ``1 day``, ``30 days``."""
    return count(number, "day")


@functools.lru_cache(maxsize=MEMORY)
def not_current(measured_on: datetime.date | None, anchor: datetime.date | None, anchor_key: str,
                window: int | None, evaluation_date: datetime.date | None, after_allowed: int = 0) -> str | None:
    """Why a value dated ``measured_on`` is not current for the anchor ``anchor_key`` (recorded as
    ``anchor``), in the words of criteria-v2 3.2; ``None`` when it is current.

    ``window``: W in days (``None``: the rule has no window); ``after_allowed``: days after the
    anchor that still count (rule 17's ``markers_max_days_after_collection``; 0 elsewhere).
    ``evaluation_date``: the effective ``as_of``; an anchor after it is planned, and a value that
    will be out of date by then is asked to be repeated. Remembered: the same dates recur across cases.
    """
    if measured_on is None:
        return "date not recorded"
    if anchor is None:
        return f"{anchor_key} not recorded"
    before = (anchor - measured_on).days
    if before >= -after_allowed and (window is None or before <= window):
        return None  # current: the common case, decided without building any text
    measured, anchored = measured_on.isoformat(), anchor.isoformat()
    if before < -after_allowed:
        if after_allowed:
            return (f"measured on {measured}, {days(-before)} after the {anchor_key} on {anchored}, more than the "
                    f"{days(after_allowed)} allowed")
        return f"measured on {measured}, after the {anchor_key} on {anchored}"
    if evaluation_date is not None and anchor > evaluation_date:
        return (f"repeat within {days(window)} before the {anchor_key} on {anchored}: measured on {measured}, "
                f"{days(before)} before")
    return (f"out of date: measured on {measured}, {days(before)} before the {anchor_key} on {anchored}, more "
            f"than the {days(window)} allowed: repeat it")


def window_of(rule: Any, key: str) -> int | None:
    """The window threshold ``key`` of ``rule`` as a whole number of days (``None`` when not held)."""
    value = rule.values.get(key)
    return None if value is None else int(value)


def sentences(quoted: Iterable[tuple[str, str]]) -> str:
    """Sentences from ``(value quoted, why not current)`` pairs: values that fail for the same reason
    share one sentence (``Platelets 60 ×10⁹/L, ANC 1200 cells/µL: date not recorded.``)."""
    grouped: dict[str, list[str]] = {}
    for value, why in quoted:
        grouped.setdefault(why, []).append(value)
    return " ".join(f"{capital(', '.join(values))}: {why}." for why, values in grouped.items())


def capital(text: str) -> str:
    """``text`` with its first letter in capitals (``ANC`` and ``SpO2`` keep theirs)."""
    return text[:1].upper() + text[1:]


def measured_on_note(dates: Iterable[datetime.date], anchor_key: str, anchor: datetime.date,
                     window: int | None) -> str:
    """The sentence naming the dates the values judged were measured on, and the window they are in."""
    return _measured_on_note(frozenset(dates), anchor_key, anchor, window)


@functools.lru_cache(maxsize=1024)
def _measured_on_note(dates: frozenset[datetime.date], anchor_key: str, anchor: datetime.date,
                      window: int | None) -> str:
    listed = " and ".join(sorted({day.isoformat() for day in dates}))
    if window == 0:
        return f"Measured on {listed}, the day of the {anchor_key}."
    within = f"within the {days(window)}" if window is not None else "on or"
    return f"Measured on {listed}, {within} before the {anchor_key} on {anchor.isoformat()}."


@functools.lru_cache(maxsize=MEMORY)
def compared(measurement: Any) -> Decimal:
    """``measurement.compared()`` (criteria-v2 4.2: converted and rounded), remembered."""
    return measurement.compared()


@functools.lru_cache(maxsize=MEMORY)
def measurement_input(measurement: Any, *, uln: bool = False) -> dict[str, Any] | None:
    """A measurement object (criteria-v2 4.2) for ``inputs``, whole: ``value``, ``unit`` (``uln`` for
    AST and ALT) and ``measured_on`` (``null`` when not recorded); ``None`` when it is absent.
    Remembered: the same object is shared by every item that quotes it (items never change it)."""
    if measurement is None:
        return None
    value = measurement.value
    found: dict[str, Any] = {"value": int(value) if value.is_integer() and abs(value) <= EXACT_INTEGER_LIMIT
                             else value, "unit": measurement.unit}
    if uln:
        found["uln"] = as_written(measurement.uln)
    measured_on = measurement.measured_on
    found["measured_on"] = measured_on.isoformat() if measured_on is not None else None
    return found


@functools.lru_cache(maxsize=MEMORY)
def quoted(name: str, measurement: Any) -> str:
    """A measurement as recorded, in words: ``bilirubin 0.8 mg/dL``."""
    return f"{name} {measure(as_written(measurement.value), measurement.unit)}"


#: ``measure`` remembered (equal numbers are written alike: ``4.1`` and ``4.10`` both as ``4.1``).
measure_text = functools.lru_cache(maxsize=MEMORY)(measure)


def json_number(value: Decimal | None) -> int | float | None:
    """A computed decimal as a JSON number for ``derived`` (``34`` or ``34.2``; ``None`` stays null)."""
    return None if value is None else native(value)
