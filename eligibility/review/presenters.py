"""What the checklist page and the signed PDF show, computed from the stored checklist (no rule logic:
the stored checklist is shown as it is), with the decisions beside the engine's statuses."""

from __future__ import annotations

import datetime
from typing import Any

from markupsafe import Markup, escape

from ..common import compiled
from ..common.display import STATUS_ICONS, checklist_inputs_text, derived_text, item_status_text
from ..common.kept import Kept
from ..patients.episodes import day_text
from ..rules import (
    DIAGNOSIS,
    OVERALL_LABELS,
    PASS,
    PENDING,
    PHASE_LABELS,
    PHASES,
    STAGE,
    STATUS_LABELS,
    STATUSES,
    ChecklistItem,
    checklist_items,
    entry_text,
    measure,
    plain,
)
from ..rulesets.selectors import engine_for
from .checklist_rows import KEPT_KINDS
from .forms import FIRST_DIRECTION, WORKLIST_COLUMNS, worklist_query
from .found import may_have
from .services import NEEDS_DISPOSITION, is_decided


def evaluation_dispositions(evaluation) -> list:
    """``evaluation.dispositions.all()``, its query built once per connection (compiled)."""
    prefetched = getattr(evaluation, "_prefetched_objects_cache", {}).get("dispositions")
    if prefetched is not None:
        return list(prefetched)
    if not may_have(evaluation, "dispositions"):
        return []  # the page's first query found none
    from .models import Disposition

    # By code: the model's order (its evaluation's date first) is the same for one evaluation's, and
    # would join the evaluations to sort by it.
    found = compiled.objects_for("evaluation dispositions", lambda pk: Disposition.objects.filter(evaluation_id=pk)
                                 .order_by("code"), evaluation.pk)
    for disposition in found:
        disposition.evaluation = evaluation  # as the related manager would have set it
    return found


def checklist_view_model(evaluation) -> dict[str, Any]:
    """The stored checklist grouped by phase, each item with the thresholds it was judged by (as the
    item's rule in the evaluation's own rule-set version says) and the physician's dispositions
    beside the engine's statuses."""
    checklist = evaluation.checklist
    engine = engine_for(evaluation.ruleset)  # built once per process for a published version
    dispositions = {disposition.code: disposition for disposition in evaluation_dispositions(evaluation)}
    items = _items_shown(evaluation, engine)
    phases, all_items = [], []
    for phase in PHASES:
        rows = [_with_decision(shown, dispositions.get(item.code)) for item, shown in items if item.phase == phase]
        for row in rows:
            row["needs_decision"] = row["status"] in NEEDS_DISPOSITION
            row["decided"] = row["needs_decision"] and is_decided(row["item"], row["disposition"])
        all_items += rows
        phases.append({
            "code": phase, "label": PHASE_LABELS[phase], "items": rows,
            # The page lists the items still needing a decision first, apart; each phase then shows
            # its decided items with their decision, and folds its passes and its checks not due
            # yet under a count.
            "decided": [row for row in rows if row["decided"]],
            "passes": [row for row in rows if row["status"] == PASS],
            "pending": [row for row in rows if row["status"] == PENDING],
        })
    return {
        "overall": checklist["overall"],
        "overall_label": OVERALL_LABELS[checklist["overall"]],
        "counts": [(status, STATUS_LABELS[status], STATUS_ICONS[status], checklist["counts"][status])
                   for status in STATUSES],
        "ruleset": checklist["ruleset"],
        "stage_label": STAGE[checklist["stage"]],
        "phases": phases,
        "all_items": all_items,
        "undecided": [row for row in all_items if row["needs_decision"] and not row["decided"]],
        # What a re-evaluation under a new rule-set version changed, in words.
        "changes": [{"title": change["title"], "before": item_status_text(change["before"]),
                     "after": item_status_text(change["after"]), "status_changed": change["before"] != change["after"]}
                    for change in evaluation.changes],
    }


def product_names(engine) -> dict[str, str]:
    """The names of the products of an engine's rule-set version, by code."""
    return {code: spec.name for code, spec in engine.ruleset.products.items()}


def _indication_used(item: ChecklistItem, engine) -> list[dict[str, Any]]:
    """For the indication item: the product's indication entry for the patient's diagnosis that it
    was judged by (criteria-v2 5: the minimum prior lines, age limits and pathways are product data
    of the rule-set version, no longer thresholds)."""
    if item.code != "indication":
        return []
    product = engine.ruleset.products.get(item.inputs.get("product"))
    entry = product.indication(item.inputs.get("diagnosis")) if product is not None else None
    if entry is None:
        return []
    text = entry_text(entry)
    return [{"label": f"Indication of {product.name} for {DIAGNOSIS[entry.diagnosis]}", "value": text, "unit": "",
             "text": text}]


def _iso_day(value) -> datetime.date | None:
    """The date of a ``YYYY-MM-DD`` case value, or ``None``."""
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _shown(item: ChecklistItem, engine, products, case=None, day_label=None) -> dict[str, Any]:
    """One item as the page shows it (without its decision, :func:`_with_decision`): its fields,
    their words (the values it was judged by as ``(label, value)``: never a case key or a code), the
    thresholds used, and those two as the page's list items (``values_html``). The same for every
    page of its checklist."""
    # computed values last; a dated value with its date and its distance to its rule's anchor
    inputs_text = checklist_inputs_text(item.inputs, case, products, day_label) + derived_text(item.derived)
    thresholds = [*({"label": spec.label, "value": plain(value), "unit": spec.unit,
                     "text": measure(value, spec.unit)} for spec, value in engine.thresholds_used(item)),
                  *_indication_used(item, engine)]
    return {
        **item.as_dict(),
        "item": item,
        "status_label": STATUS_LABELS[item.status],
        "icon": STATUS_ICONS[item.status],
        "inputs_text": inputs_text,
        "thresholds": thresholds,
        "values_html": values_list_html(inputs_text, thresholds),
        # The row's HTML as the page's macro wrote it, kept for the next pages (review/checklist_rows.py).
        "kept": Kept(KEPT_KINDS),
    }


def values_list_html(inputs_text, thresholds) -> Markup:
    """The checklist row's list of the values and thresholds used, as the row macro's two loops
    wrote them (review/_checklist_item.jinja): written once per checklist, not on every page."""
    values = "".join(f"<li>{escape(label)}: {escape(value)}</li>" for label, value in inputs_text)
    limits = "".join(f"<li>{escape(threshold['label'])}: {escape(threshold['text'])}</li>" for threshold in thresholds)
    return Markup(f"{values}\n    {limits}")  # noqa: S704 (every value escaped)


def _with_decision(shown: dict[str, Any], disposition) -> dict[str, Any]:
    """A page's own row: the item as shown, its decision, and what the page adds (review/views.py,
    review/handoffs/presenters.py), present on every row (the template reads each as a key,
    review/_checklist_item.jinja): a new dict and new lists, so the page may set them."""
    return {**shown, "disposition": disposition,
            "form_html": None, "form": None, "questions": [], "notes": [], "note_form": None, "question_form": None}


def _items_shown(evaluation, engine) -> list[tuple[ChecklistItem, dict[str, Any]]]:
    """The evaluation's items with what the page shows of each (:func:`_shown`), worked out once per
    process for the checklist and the engine of its rule-set version: a stored checklist is kept
    exactly as it was made (its items, its inputs), and a published version's engine is one object
    for the life of the process (a draft's is built again for each page, so never found here). Kept
    by the checklist's public key (a random UUID, never reused), with its engine; shared by the pages
    that show it, never changed (each page copies a row before adding to it, :func:`_with_decision`)."""
    kept = _ITEMS_SHOWN.get(evaluation.public_id)
    if kept is not None and kept[0] is engine:
        return kept[1]
    products = product_names(engine)
    case = evaluation.inputs or {}
    zero = _iso_day(case.get("infusion_date"))
    day_label = (lambda on: day_text(on, zero)) if zero else None
    items = [(item, _shown(item, engine, products, case, day_label)) for item in checklist_items(evaluation.checklist)]
    _ITEMS_SHOWN.put(evaluation.public_id, (engine, items))  # with its engine: that object lives while kept
    return items


#: The checklists whose items :func:`_items_shown` worked out (a checklist with its kept rows: about 380 KB).
_ITEMS_SHOWN = Kept(64)


_SORTED = {"asc": "ascending", "desc": "descending"}


def worklist_columns(criteria: dict[str, str]) -> list[dict[str, str | None]]:
    """The worklist's column headings as sort links: each keeps the filters; the sorted column's
    link reverses its direction, another column's sorts in its first direction. ``aria_sort`` is
    set on the sorted column only ("ascending" or "descending")."""
    columns = []
    for key, label, _ in WORKLIST_COLUMNS:
        active = key == criteria["sort"]
        direction = ("asc" if criteria["dir"] == "desc" else "desc") if active else FIRST_DIRECTION[key]
        columns.append({
            "key": key, "label": label, "href": "?" + worklist_query(criteria, sort=key, dir=direction),
            "aria_sort": _SORTED[criteria["dir"]] if active else None, "next": _SORTED[direction],
        })
    return columns
