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

from ..rules import (
    CHOICES,
    DEFAULT_PRODUCTS,
    DIAGNOSIS,
    LABELS,
    STATUS_LABELS,
    LocalDateTime,
    case_field_types,
    count,
    measure,
    plain,
    unit_symbol,
)
from .people import display_name

#: Icons carry the status beside its word (never colour alone).
STATUS_ICONS = {"pass": "✓", "flag": "⚑", "missing": "?", "defer": "‖", "exclude": "✕", "pending": "…"}
NOT_RECORDED = "not recorded"
#: Product names when a page knows no rule set's catalogue (the source documents' catalogue).
DEFAULT_PRODUCT_NAMES = {product.code: product.name for product in DEFAULT_PRODUCTS}


#: The groups of the case format whose members are recorded one by one (``infections.hbv``,
#: ``labs.bilirubin``): the first part of every dotted case path.
CASE_GROUPS = frozenset(path.partition(".")[0] for path in case_field_types() if "." in path)


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
    written (``19`` not ``19.0``), a measurement with its unit symbol and date (``0.8 mg/dL, measured
    on 9 Mar 2026``), a list of choices in words, a member of an object (``labs.ast.uln``) by its type."""
    if value is None:
        return NOT_RECORDED
    if path == "product":
        names = DEFAULT_PRODUCT_NAMES if products is None else products
        return names.get(value) or DEFAULT_PRODUCT_NAMES.get(value) or str(value)
    if path in CHOICES and isinstance(value, str):
        return CHOICES[path].get(value, value.replace("_", " "))
    if path in CHOICES and isinstance(value, list):
        return choices_text(path, value)
    info = schema_type(path)
    if isinstance(info, schema.DateType):
        return date_text(value)
    if _is_date_time(info):
        return date_time_text(value)
    if path.rpartition(".")[2] == "unit" and isinstance(value, str):
        return unit_symbol(value)
    if isinstance(value, dict):
        return object_text(value, path)
    return value_text(value)


def choices_text(path: str, values: list) -> str:
    """A list of choices (``prior_drug_classes``) in words, in the order recorded; ``[]``: none."""
    words = CHOICES.get(path, {})
    return ", ".join(words.get(value, str(value).replace("_", " ")) for value in values) or "none"


def object_members(info: schema.Type) -> dict[str, schema.Type]:
    """The members of an object of the case format with their types (``None`` stripped): a struct's
    fields, or, for a union tagged by unit (bilirubin, temperature), its first member's fields and
    ``unit`` with every unit of the union. Empty for anything else."""
    def required(member: schema.Type) -> schema.Type:
        if isinstance(member, schema.UnionType):
            kept = [item for item in member.types if not isinstance(item, schema.NoneType)]
            return kept[0] if len(kept) == 1 else schema.UnionType(tuple(kept))
        return member

    if isinstance(info, schema.StructType):
        return {field.name: required(field.type) for field in info.fields}
    structs = [member for member in getattr(info, "types", ()) if isinstance(member, schema.StructType)]
    if not structs:
        return {}
    members = {field.name: required(field.type) for field in structs[0].fields}
    members[structs[0].tag_field] = schema.LiteralType(tuple(struct.tag for struct in structs))
    return members


def schema_type(path: str) -> schema.Type | None:
    """The case format's type of a case path or of a member of an object under it
    (``labs.bilirubin.measured_on``); ``None`` for a path it does not know."""
    types = case_field_types()
    if path in types:
        return types[path]
    parent, _, member = path.rpartition(".")
    owner = schema_type(parent) if parent else None
    return object_members(owner).get(member) if owner is not None else None


def _is_date_time(info: schema.Type | None) -> bool:
    return isinstance(info, schema.CustomType) and issubclass(info.cls, LocalDateTime)


def date_time_text(value: str) -> str:
    """A date-time of the case format (``2026-01-30T08:00``) as people write it: ``30 Jan 2026 08:00``."""
    try:
        moment = LocalDateTime.from_text(value)
    except ValueError:
        return str(value)
    clock = f"{moment:%H:%M:%S}" if len(value) > len("YYYY-MM-DDTHH:MM") else f"{moment:%H:%M}"
    return f"{date_text(moment.date())} {clock}"


def object_text(value: Mapping[str, Any], path: str | None = None) -> str:
    """A measurement or washout object in words: ``35 U/L (upper limit of normal 40 U/L), measured on
    9 Mar 2026``; ``101.2 °F, taken 17 Mar 2026 08:00``; ``stopped, last dose 30 Jan 2026 08:00``."""
    if "value" in value:
        text = measure(value["value"], value.get("unit"))
        if value.get("uln") is not None:
            text += f" (upper limit of normal {measure(value['uln'], 'U/L')})"
        if value.get("measured_on") is not None:
            text += f", measured on {date_text(value['measured_on'])}"
        if value.get("measured_at") is not None:
            text += f", taken {date_time_text(value['measured_at'])}"
        return text
    if "status" in value or "last_dose_at" in value or "last_dose_on" in value:
        words = CHOICES.get(f"{path}.status", {}) if path else {}
        status = value.get("status")
        text = NOT_RECORDED if status is None else words.get(status, str(status).replace("_", " "))
        if value.get("last_dose_at") is not None:
            text += f", last dose {date_time_text(value['last_dose_at'])}"
        if value.get("last_dose_on") is not None:
            text += f", last dose {date_text(value['last_dose_on'])}"
        return text
    return "; ".join(f"{key.replace('_', ' ')} {value_text(item)}" for key, item in value.items()) or NOT_RECORDED


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
        return object_text(value)
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


# --- Dated values on the checklist (issue 14; criteria.md 9.3) -------------------------------------------

#: Each dated value's anchor (criteria.md 9.3): the treatment date its rule judges it against.
DATED_ANCHORS: dict[str, str] = {
    "alc": "leukapheresis_date",
    "infections.markers_tested_on": "leukapheresis_date",
    "temperature": "infusion_date",
    "infections.sars_cov_2_tested_on": "lymphodepletion_start_date",
    "lvef": "lymphodepletion_start_date",
    "spo2_room_air": "lymphodepletion_start_date",
    **{f"labs.{name}": "lymphodepletion_start_date" for name in (
        "bilirubin", "ast", "alt", "creatinine", "creatinine_clearance", "anc", "haemoglobin", "platelets", "crp",
        "ferritin", "ldh")},
}
#: The words an anchor is said by after a distance ("3 days before collection").
ANCHOR_WORDS = {"leukapheresis_date": "collection", "lymphodepletion_start_date": "lymphodepletion",
                "infusion_date": "infusion"}


def _day(value: Any) -> datetime.date | None:
    """A ``YYYY-MM-DD`` date (or the date of a date-time) of case data; ``None`` otherwise."""
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return datetime.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def distance_text(on: datetime.date, anchor_key: str, anchor: datetime.date | None) -> str:
    """How far a value's date is from its anchor: "3 days before collection", "1 day before
    lymphodepletion", "on the day of infusion", "2 days after collection"; "" without the anchor."""
    if anchor is None:
        return ""
    word = ANCHOR_WORDS[anchor_key]
    before = (anchor - on).days
    if before == 0:
        return f"on the day of {word}"
    if before > 0:
        return f"{count(before, 'day')} before {word}"
    return f"{count(-before, 'day')} after {word}"


def dated_text(on: datetime.date, day_label=None) -> str:
    """A date as ``YYYY-MM-DD``, with its day number in brackets when ``day_label`` gives one."""
    number = day_label(on) if day_label else ""
    return f"{on.isoformat()} ({number})" if number else on.isoformat()


def checklist_inputs_text(inputs: Mapping[str, Any], case: Mapping[str, Any] | None = None,
                          products: Mapping[str, str] | None = None, day_label=None) -> list[tuple[str, str]]:
    """The values a checklist item was judged by, as :func:`inputs_text` writes them, a dated value with
    its date and its distance to its rule's anchor: ("Absolute lymphocyte count", "0.35 ×10⁹/L,
    measured 2026-11-20, 3 days before collection"). Dates are ``YYYY-MM-DD``; ``day_label`` (a date ->
    "day −5", or "") adds day numbers once an infusion date is recorded. ``case``: the case as
    evaluated (the evaluation's inputs), where a value's date and its anchor are read when the item
    does not quote them (rules that judge no date quote the value alone)."""
    case = case or {}
    rows = []
    for path, value in inputs.items():
        rows.append((input_label(path), _checklist_value(path, value, inputs, case, products, day_label)))
    return rows


def _case_value(case: Mapping[str, Any], path: str) -> Any:
    group, _, name = path.partition(".")
    if not name:
        return case.get(path)
    parent = case.get(group)
    if isinstance(parent, Mapping):
        return parent.get(name)
    return None


def _checklist_value(path: str, value: Any, inputs: Mapping[str, Any], case: Mapping[str, Any],
                     products: Mapping[str, str] | None, day_label) -> str:
    anchor_key = DATED_ANCHORS.get(path)
    info = schema_type(path)
    if value is None:
        return NOT_RECORDED
    if isinstance(info, schema.DateType) and _day(value) is not None and anchor_key is None:
        return dated_text(_day(value), day_label)  # a treatment date, a washout's or the product's date
    if anchor_key is None:
        return input_text(path, value, products)
    anchor = _day(inputs.get(anchor_key, _case_value(case, anchor_key)))
    if isinstance(value, Mapping):
        recorded = _case_value(case, path)
        same = isinstance(recorded, Mapping) and all(recorded.get(key) == item for key, item in value.items()
                                                     if key not in ("measured_on", "measured_at"))
        measured_on = value.get("measured_on") or (recorded.get("measured_on") if same else None)
        measured_at = value.get("measured_at") or (recorded.get("measured_at") if same else None)
        bare = {key: item for key, item in value.items() if key not in ("measured_on", "measured_at")}
        text = object_text(bare, path)
        on = _day(measured_on or measured_at)
        if on is None:
            return f"{text}, date not recorded"
        when = (f"measured {dated_text(on, day_label)}" if measured_on
                else f"taken {dated_text(on, day_label)} {str(measured_at)[11:16]}")
        distance = distance_text(on, anchor_key, anchor)
        return f"{text}, {when}" + (f", {distance}" if distance else "")
    on = _day(value)
    if on is None:
        return input_text(path, value, products)
    distance = distance_text(on, anchor_key, anchor)
    return dated_text(on, day_label) + (f", {distance}" if distance else "")


#: The CAR-HEMATOTOX variables (rule 36's ``points``) as people name them.
HEMATOTOX_VARIABLES = {"platelets": "platelets", "anc": "ANC", "haemoglobin": "haemoglobin", "crp": "CRP",
                       "ferritin": "ferritin"}
HEMATOTOX_MAX = 7
NOT_COMPUTED = "not computed"


def _number(value: Any, unit: str = "") -> str:
    return NOT_COMPUTED if value is None else measure(value, unit)


def derived_text(derived: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The values a rule computed (an item's ``derived``, criteria-v2 6.3) as ``(label, words)``:
    "CAR-HEMATOTOX score", "3 of 7, high risk"; a value that could not be computed says so."""
    if not derived:
        return []
    rows: list[tuple[str, str]] = []
    if "bilirubin_umol_l" in derived:
        rows.append(("Total bilirubin, as compared", _number(derived["bilirubin_umol_l"], "umol/L")))
    for key, name in (("ast_x_uln", "AST"), ("alt_x_uln", "ALT")):
        if key in derived:
            ratio = derived[key]  # compared to 2 decimals (criteria-v2 4.2): written so
            rows.append((f"{name}, multiple of the upper limit of normal",
                         NOT_COMPUTED if ratio is None else f"{ratio:.2f} ×ULN"))
    if "crcl_ml_min" in derived:
        source = {"recorded": "measured", "cockcroft_gault": "Cockcroft-Gault estimate"}.get(derived.get("crcl_source"))
        text = _number(derived["crcl_ml_min"], "mL/min")
        rows.append(("Creatinine clearance used", f"{text} ({source})" if source and derived["crcl_ml_min"] is not None
                     else text))
    if "points" in derived:
        score, risk = derived.get("score"), derived.get("risk")
        if score is None:
            text = f"{NOT_COMPUTED} (partial score {plain(derived.get('partial_score') or 0)} from the values current)"
        else:
            text = f"{plain(score)} of {HEMATOTOX_MAX}" + (f", {risk} risk" if risk else "")
        rows.append(("CAR-HEMATOTOX score", text))
        points = derived.get("points") or {}
        rows.append(("CAR-HEMATOTOX points", ", ".join(
            f"{word} {'not current' if points.get(key) is None else plain(points[key])}"
            for key, word in HEMATOTOX_VARIABLES.items())))
    for key, label in (("easix", "EASIX"), ("log2_easix", "log2(EASIX)"), ("m_easix", "m-EASIX")):
        if key in derived:
            rows.append((label, _number(derived[key])))
    return rows


def history_who(record) -> str:
    """Who made a django-simple-history record ("system" when no user was recorded)."""
    return display_name(record.history_user)


#: An item on one side only of two versions' checklists (criteria-v2 2.1): its rule is not enabled there.
NOT_CHECKED = "not checked (rule not enabled)"


def item_status_text(status: str | None) -> str:
    """An item's status in words, or that the version compared did not check it (``None``)."""
    return NOT_CHECKED if status is None else STATUS_LABELS[status]
