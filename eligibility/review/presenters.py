"""What the checklist page and the signed PDF show, computed from the stored checklist (no rule logic:
the stored checklist is shown as it is), with the decisions beside the engine's statuses."""

from __future__ import annotations

from typing import Any

from ..common.display import STATUS_ICONS, value_text
from ..rules import vocabulary
from ..rules.arithmetic import plain
from ..rules.engine import RULE_CLASSES
from ..rules.statuses import OVERALL_LABELS, PHASE_LABELS, PHASES, STATUS_LABELS, STATUSES
from ..rules.thresholds import MIN_PRIOR_LINES_KEYS, THRESHOLDS_BY_KEY

THRESHOLD_KEYS = {rule.code: rule.threshold_keys for rule in RULE_CLASSES}


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
                "inputs_text": [(path, value_text(value)) for path, value in item["inputs"].items()],
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
