"""What the pages show, computed from stored data (no rule logic: the stored checklist is shown as is)."""

from __future__ import annotations

from typing import Any

from .models import Product, Threshold
from .rules import vocabulary
from .rules.arithmetic import plain
from .rules.engine import RULE_CLASSES
from .rules.statuses import OVERALL_LABELS, PHASE_LABELS, PHASES, STATUS_LABELS, STATUSES
from .rules.thresholds import MIN_PRIOR_LINES_KEYS, THRESHOLDS_BY_KEY

#: Icons carry the status beside its word (never colour alone).
STATUS_ICONS = {"pass": "✓", "flag": "⚑", "missing": "?", "defer": "‖", "exclude": "✕", "pending": "…"}
THRESHOLD_KEYS = {rule.code: rule.threshold_keys for rule in RULE_CLASSES}


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return f"{plain(value.get('value'))} {value.get('unit')}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "not recorded"
    if isinstance(value, float | int):
        return plain(value)
    return str(value).replace("_", " ")


def _thresholds_used(item: dict[str, Any]) -> tuple[str, ...]:
    """The thresholds an item was judged by: for the indication, only the minimum prior lines of
    the patient's diagnosis (all five when the diagnosis is not recorded; none for B-ALL)."""
    keys = THRESHOLD_KEYS.get(item["code"], ())
    diagnosis = item["inputs"].get("diagnosis")
    if item["code"] == "indication" and diagnosis is not None:
        return (MIN_PRIOR_LINES_KEYS[diagnosis],) if diagnosis in MIN_PRIOR_LINES_KEYS else ()
    return keys


def checklist_view_model(evaluation) -> dict[str, Any]:
    """The stored checklist grouped by phase, with the thresholds of its own rule-set version and
    the physician's dispositions beside the engine's statuses."""
    checklist = evaluation.checklist
    thresholds = dict(evaluation.ruleset.thresholds.values_list("key", "value"))
    dispositions = {disposition.code: disposition for disposition in evaluation.dispositions.all()}
    phases, all_items = [], []
    for phase in PHASES:
        items = []
        for item in checklist["items"]:
            if item["phase"] != phase:
                continue
            used = [
                {"label": THRESHOLDS_BY_KEY[key].label, "value": plain(thresholds[key]),
                 "unit": THRESHOLDS_BY_KEY[key].unit}
                for key in _thresholds_used(item) if key in thresholds
            ]
            items.append({
                **item,
                "status_label": STATUS_LABELS[item["status"]],
                "icon": STATUS_ICONS[item["status"]],
                "inputs_text": [(path, _value_text(value)) for path, value in item["inputs"].items()],
                "thresholds": used,
                "disposition": dispositions.get(item["code"]),
            })
        all_items += items
        phases.append({"code": phase, "label": PHASE_LABELS[phase], "items": items})
    return {
        "overall": checklist["overall"],
        "overall_label": OVERALL_LABELS[checklist["overall"]],
        "counts": [(status, STATUS_LABELS[status], STATUS_ICONS[status], checklist["counts"][status])
                   for status in STATUSES],
        "ruleset": checklist["ruleset"],
        "stage_label": vocabulary.STAGE[checklist["stage"]],
        "phases": phases,
        "all_items": all_items,
        # What a re-evaluation under a new rule-set version changed, in words.
        "changes": [{"title": change["title"], "before": STATUS_LABELS[change["before"]],
                     "after": STATUS_LABELS[change["after"]], "status_changed": change["before"] != change["after"]}
                    for change in evaluation.changes],
    }


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in ("infections", "organ_function"):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def history_rows(assessment, limit: int = 200) -> list[dict[str, Any]]:
    """Every recorded change of the assessment: who, when, which value, old and new."""
    records = list(assessment.history.select_related("history_user").order_by("history_date", "history_id"))
    rows: list[dict[str, Any]] = []
    previous_data: dict[str, Any] = {}
    previous_stage = None
    for record in records:
        who = record.history_user.get_full_name() or record.history_user.username if record.history_user else "system"
        before, after = _flatten(previous_data), _flatten(record.data or {})
        for path in sorted(before.keys() | after.keys()):
            if before.get(path) != after.get(path):
                rows.append({"when": record.history_date, "who": who, "field": path,
                             "old": _value_text(before.get(path)), "new": _value_text(after.get(path))})
        if previous_stage is not None and record.stage != previous_stage:
            rows.append({"when": record.history_date, "who": who, "field": "stage",
                         "old": vocabulary.STAGE[previous_stage], "new": vocabulary.STAGE[record.stage]})
        previous_data, previous_stage = record.data or {}, record.stage
    rows += _patient_rows(assessment.patient)
    rows.sort(key=lambda row: row["when"], reverse=True)
    return rows[:limit]


#: The patient's own fields shown in its history, with their labels.
PATIENT_FIELDS = {"study_id": "study identifier", "initials": "initials"}


def _patient_rows(patient) -> list[dict[str, Any]]:
    """Corrections of the identifier and initials, withdrawals and restorations."""
    rows, previous = [], None
    for record in patient.history.select_related("history_user").order_by("history_date", "history_id"):
        if previous is not None:
            who = _who(record)
            for name, label in PATIENT_FIELDS.items():
                if getattr(previous, name) != getattr(record, name):
                    rows.append({"when": record.history_date, "who": who, "field": label,
                                 "old": getattr(previous, name), "new": getattr(record, name)})
            if (previous.withdrawn_at is None) != (record.withdrawn_at is None):
                withdrawn = record.withdrawn_at is not None
                rows.append({"when": record.history_date, "who": who, "field": "withdrawal",
                             "old": "" if withdrawn else f"withdrawn: {previous.withdrawal_reason}",
                             "new": f"withdrawn: {record.withdrawal_reason}" if withdrawn else "restored"})
        previous = record
    return rows


def assessment_changed_since(assessment, revision: int) -> dict[str, tuple[str, Any]]:
    """Who last changed each case path (and ``"stage"``) after ``revision``, and when:
    ``{path: (name, time)}`` (from the assessment's history)."""
    records = (assessment.history.filter(revision__gte=revision).select_related("history_user")
               .order_by("revision", "history_date", "history_id"))
    changed: dict[str, tuple[str, Any]] = {}
    previous = None
    for record in records:
        if previous is not None:
            before, after = _flatten(previous.data or {}), _flatten(record.data or {})
            for path in before.keys() | after.keys():
                if before.get(path) != after.get(path):
                    changed[path] = (_who(record), record.history_date)
            if record.stage != previous.stage:
                changed["stage"] = (_who(record), record.history_date)
        previous = record
    return changed


def _who(record) -> str:
    user = record.history_user
    return (user.get_full_name() or user.username) if user else "system"


def _product_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "none"
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
                         "old": f"{plain(before.value)} {spec.unit}".strip(),
                         "new": f"{plain(record.value)} {spec.unit}".strip()})
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
