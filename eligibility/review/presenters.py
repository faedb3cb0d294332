"""What the checklist page and the signed PDF show, computed from the stored checklist (no rule logic:
the stored checklist is shown as it is), with the decisions beside the engine's statuses."""

from __future__ import annotations

from typing import Any

from ..common.display import STATUS_ICONS, inputs_text
from ..rules import (
    OVERALL_LABELS,
    PHASE_LABELS,
    PHASES,
    STAGE,
    STATUS_LABELS,
    STATUSES,
    ChecklistItem,
    checklist_items,
    measure,
    plain,
)
from ..rulesets.selectors import engine_for


def checklist_view_model(evaluation) -> dict[str, Any]:
    """The stored checklist grouped by phase, each item with the thresholds it was judged by (as the
    item's rule in the evaluation's own rule-set version says) and the physician's dispositions
    beside the engine's statuses."""
    checklist = evaluation.checklist
    engine = engine_for(evaluation.ruleset)  # built once per process for a published version
    dispositions = {disposition.code: disposition for disposition in evaluation.dispositions.all()}
    items = checklist_items(checklist)
    products = product_names(engine)
    phases, all_items = [], []
    for phase in PHASES:
        rows = [_row(item, engine, products, dispositions.get(item.code)) for item in items if item.phase == phase]
        all_items += rows
        phases.append({"code": phase, "label": PHASE_LABELS[phase], "items": rows})
    return {
        "overall": checklist["overall"],
        "overall_label": OVERALL_LABELS[checklist["overall"]],
        "counts": [(status, STATUS_LABELS[status], STATUS_ICONS[status], checklist["counts"][status])
                   for status in STATUSES],
        "ruleset": checklist["ruleset"],
        "stage_label": STAGE[checklist["stage"]],
        "phases": phases,
        "all_items": all_items,
        # What a re-evaluation under a new rule-set version changed, in words.
        "changes": [{"title": change["title"], "before": STATUS_LABELS[change["before"]],
                     "after": STATUS_LABELS[change["after"]], "status_changed": change["before"] != change["after"]}
                    for change in evaluation.changes],
    }


def product_names(engine) -> dict[str, str]:
    """The names of the products of an engine's rule-set version, by code."""
    return {code: spec.name for code, spec in engine.ruleset.products.items()}


def _row(item: ChecklistItem, engine, products, disposition) -> dict[str, Any]:
    """One item as the page shows it: its fields, their words (the values it was judged by as
    ``(label, value)``: never a case key or a code), the thresholds used, its decision."""
    return {
        **item.as_dict(),
        "item": item,
        "status_label": STATUS_LABELS[item.status],
        "icon": STATUS_ICONS[item.status],
        "inputs_text": inputs_text(item.inputs, products),
        "thresholds": [{"label": spec.label, "value": plain(value), "unit": spec.unit,
                        "text": measure(value, spec.unit)} for spec, value in engine.thresholds_used(item)],
        "disposition": disposition,
    }
