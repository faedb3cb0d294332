"""What the rule-set pages show: who edited which value of a draft, and when; a value that departs
from the source documents, beside theirs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..common.display import diagnoses_text
from ..common.display import history_who as _who
from ..common.display import value_text as _value_text
from ..rules import RULE_CLASSES, THRESHOLDS, THRESHOLDS_BY_KEY, measure
from .models import Product, Threshold

#: The source a rule cites, by the rule's code (a threshold's source is that of the rule reading it).
_RULE_SOURCES = {rule.code: rule.source for rule in RULE_CLASSES}


def value_with_unit(key: str, value: Decimal) -> str:
    """A threshold's value as screens write it, with its unit ("8 weeks", "38 °C")."""
    return measure(value, THRESHOLDS_BY_KEY[key].unit)


def source_departure(key: str, value: Decimal) -> str | None:
    """When ``value`` departs from the source documents' value of threshold ``key`` (version 1's, as
    the engine declares it in ``rules.thresholds``), that value and where it comes from; else None."""
    spec = THRESHOLDS_BY_KEY[key]
    if value == spec.default:
        return None
    return f"source documents: {value_with_unit(key, spec.default)}, {_RULE_SOURCES[spec.rule]}"


def threshold_rows(values: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Every threshold of a version in the engine's order: label, value, and the source documents'
    value beside a value that departs from it."""
    return [{"label": spec.label, "value": value_with_unit(spec.key, values[spec.key]),
             "departure": source_departure(spec.key, values[spec.key])} for spec in THRESHOLDS]


def _product_value(value: Any) -> str:
    if isinstance(value, list):  # diagnoses
        return diagnoses_text(value)
    if value is None:
        return "none"
    return _value_text(value)


def ruleset_edit_rows(ruleset) -> list[dict[str, Any]]:
    """Every edit of a version while it was a draft: who, when, what, before and after (newest first).

    The copy a draft starts from is not an edit; the differences from the active version show its result.
    """
    rows: list[dict[str, Any]] = []
    last: dict[int, Any] = {}
    for record in (Threshold.history.filter(ruleset_id=ruleset.pk).select_related("history_user")
                   .order_by("history_date", "history_id")):
        before = last.get(record.id)
        if record.history_type == "~" and before is not None and before.value != record.value:
            spec = THRESHOLDS_BY_KEY[record.key]
            rows.append({"when": record.history_date, "who": _who(record), "what": spec.label,
                         "old": measure(before.value, spec.unit),
                         "new": measure(record.value, spec.unit)})
        last[record.id] = record
    last = {}
    for record in (Product.history.filter(ruleset_id=ruleset.pk).select_related("history_user")
                   .order_by("history_date", "history_id")):
        before = last.get(record.id)
        what = f"Product {record.name} ({record.code})"
        if record.history_type == "+" and not (record.history_change_reason or "").startswith("Copied"):
            rows.append({"when": record.history_date, "who": _who(record), "what": what, "old": "absent",
                         "new": "added"})
        elif record.history_type == "-":
            rows.append({"when": record.history_date, "who": _who(record), "what": what, "old": "present",
                         "new": "removed"})
        elif record.history_type == "~" and before is not None:
            for name in Product.EDITABLE_FIELDS:
                old, new = getattr(before, name), getattr(record, name)
                if old != new:
                    rows.append({"when": record.history_date, "who": _who(record),
                                 "what": f"{what}: {name.replace('_', ' ')}",
                                 "old": _product_value(old), "new": _product_value(new)})
        last[record.id] = record
    rows.sort(key=lambda row: row["when"], reverse=True)
    return rows
