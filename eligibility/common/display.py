"""What screens show of stored values: one way to write a recorded value in words.

A recorded value is named by its label and written in words (:func:`input_label`,
:func:`input_text`): the checklist's values used, the patient's history, the impact preview and
the signed PDF all use these, so a case key, a choice's code or a raw number never reaches a page.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import msgspec.inspect as schema

from ..rules import CHOICES, DEFAULT_PRODUCTS, DIAGNOSIS, LABELS, STATUS_LABELS, case_field_types, measure, plain
from .people import display_name

#: Icons carry the status beside its word (never colour alone).
STATUS_ICONS = {"pass": "✓", "flag": "⚑", "missing": "?", "defer": "‖", "exclude": "✕", "pending": "…"}
NOT_RECORDED = "not recorded"
#: Product names when a page knows no rule set's catalogue (the source documents' catalogue).
DEFAULT_PRODUCT_NAMES = {product.code: product.name for product in DEFAULT_PRODUCTS}


def input_label(path: str) -> str:
    """A case path as people name it (``infections.hbv_prophylaxis`` -> ``HBV antiviral prophylaxis
    in place``, ``alc.unit`` -> ``Absolute lymphocyte count (unit)``); a path the case format does
    not know, in words (its last part, spaced)."""
    if path in LABELS:
        return LABELS[path]
    parent, _, part = path.rpartition(".")
    if parent in LABELS:
        return f"{LABELS[parent]} ({part.replace('_', ' ')})"
    return part.replace("_", " ").capitalize()


def input_error_text(error: Mapping[str, str]) -> str:
    """An input error of the engine (``{"field", "message"}``) named by its label: a product the
    rule set no longer has is said so, not listed against every code it has."""
    message = error["message"]
    if error["field"] == "product" and message.startswith("must be one of"):
        message = "is not in this rule-set version's product catalogue"
    return f"{input_label(error['field'])} {message}"


def date_text(value: datetime.date | str) -> str:
    """A date as people write it: ``2 Nov 2026`` (an ISO date string is read first)."""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            return value
    return f"{value.day} {value:%b %Y}"


def input_text(path: str, value: Any, products: Mapping[str, str] | None = None) -> str:
    """A recorded value of ``path`` in words: a choice's words, a product's name (``products``: codes
    to names, by default the source documents' catalogue), yes or no, a date as a date, a number as
    written (``19`` not ``19.0``), a measurement with its unit symbol (``101.2 °F``)."""
    if value is None:
        return NOT_RECORDED
    if path == "product":
        names = DEFAULT_PRODUCT_NAMES if products is None else products
        return names.get(value) or DEFAULT_PRODUCT_NAMES.get(value) or str(value)
    if path in CHOICES and isinstance(value, str):
        return CHOICES[path].get(value, value.replace("_", " "))
    if isinstance(case_field_types().get(path), schema.DateType):
        return date_text(value)
    return value_text(value)


def label_with_unit(label: str, unit: str) -> str:
    """A label with its unit in brackets, one pair only: "Minimum age (years)", "Infant age (flag
    below; years)"."""
    if not unit:
        return label
    return f"{label[:-1]}; {unit})" if label.endswith(")") else f"{label} ({unit})"


def generic_name(code: str) -> str:
    """A product code (the non-proprietary name in the case format's spelling) in words:
    ``axicabtagene_ciloleucel`` -> ``axicabtagene ciloleucel``."""
    return code.replace("_", " ")


def diagnoses_text(codes) -> str:
    """Diagnosis codes (a product's indications) in words, in the case format's order."""
    order = list(DIAGNOSIS)
    known = sorted(codes, key=lambda code: order.index(code) if code in order else len(order))
    return ", ".join(DIAGNOSIS.get(code, code) for code in known) or "none"


def value_text(value: Any) -> str:
    """Any stored value in words when its case path is not known: yes or no, a number as written, a
    measurement with its unit symbol, a code with spaces."""
    if isinstance(value, dict) and "value" in value:
        return measure(value["value"], value.get("unit"))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return NOT_RECORDED
    if isinstance(value, float | int):
        return plain(value)
    return str(value).replace("_", " ")


def inputs_text(inputs: Mapping[str, Any], products: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """The values a checklist item was judged by, as ``(label, value in words)`` in their order."""
    return [(input_label(path), input_text(path, value, products)) for path, value in inputs.items()]


def history_who(record) -> str:
    """Who made a django-simple-history record ("system" when no user was recorded)."""
    return display_name(record.history_user)


#: An item on one side only of two versions' checklists (criteria-v2 2.1): its rule is not enabled there.
NOT_CHECKED = "not checked (rule not enabled)"


def item_status_text(status: str | None) -> str:
    """An item's status in words, or that the version compared did not check it (``None``)."""
    return NOT_CHECKED if status is None else STATUS_LABELS[status]
