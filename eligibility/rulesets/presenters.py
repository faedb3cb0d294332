"""What the rule-set pages show: who edited which value of a draft, and when; a value that departs
from the source documents, beside theirs; the progress and outcome of the re-evaluation after a
publish."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from ..common.display import diagnoses_text
from ..common.display import history_who as _who
from ..common.display import value_text as _value_text
from ..rules import (
    CATALOGUE,
    OPTIONAL_GROUPS,
    PHASE_LABELS,
    RULE_CLASSES,
    THRESHOLDS,
    THRESHOLDS_BY_KEY,
    indication_from_dict,
)
from .models import Product, Threshold
from .selectors import DIAGNOSIS_WORDS, indication_text, threshold_text

#: The source a rule cites, by the rule's code (a threshold's source is that of the rule reading it).
RULE_SOURCES = {rule.code: rule.source for rule in RULE_CLASSES}


def value_with_unit(key: str, value: Decimal | None) -> str:
    """A threshold's value as screens write it, with its unit ("8 weeks", "38 °C"), or "to be entered"."""
    return threshold_text(key, value)


def source_departure(key: str, value: Decimal | None) -> str | None:
    """When ``value`` departs from the catalogue default of threshold ``key`` (version 1's, as the
    engine declares it in ``rules.thresholds``, or a cited default), that value and where it comes
    from; else None (also for a value to be entered, or a threshold without a default)."""
    spec = THRESHOLDS_BY_KEY[key]
    if value is None or spec.default is None or value == spec.default:
        return None
    source = spec.default_source or RULE_SOURCES.get(spec.rule, "")
    what = "catalogue default" if spec.default_source else "source documents"
    return f"{what}: {value_with_unit(key, spec.default)}, {source}"


def threshold_rows(values: dict[str, Decimal | None], enabled_rules) -> list[dict[str, Any]]:
    """Every threshold a version holds, by the rule reading it in catalogue order: label, value,
    whether it is read (a rule reading it is enabled), and the catalogue default beside a value
    that departs from it."""
    rows = []
    for entry in CATALOGUE:
        for spec in THRESHOLDS:
            if spec.rule == entry.code and spec.key in values:
                rows.append({"rule": f"{entry.number}. {entry.title}", "label": spec.label,
                             "value": value_with_unit(spec.key, values[spec.key]),
                             "read": any(code in enabled_rules for code in spec.rules),
                             "group": spec.group, "departure": source_departure(spec.key, values[spec.key])})
    return rows


def rule_rows(enabled_rules, thresholds) -> list[dict[str, Any]]:
    """Every rule of the catalogue by phase in catalogue order: number, title, enabled or not, and
    its optional groups (held or not)."""
    rows = []
    for entry in CATALOGUE:
        groups = [{"name": group, "held": all(key in thresholds for key in keys),
                   "labels": [THRESHOLDS_BY_KEY[key].label for key in keys]}
                  for group, keys in OPTIONAL_GROUPS.items() if THRESHOLDS_BY_KEY[keys[0]].rule == entry.code]
        rows.append({"code": entry.code, "number": entry.number, "title": entry.title,
                     "phase": PHASE_LABELS[entry.phase], "enabled": entry.code in enabled_rules, "groups": groups})
    return rows


def product_rows(products) -> list[dict[str, Any]]:
    """Each product of a version with its indication entries in words."""
    rows = []
    for product in products:
        entries = [indication_from_dict(entry) for entry in product.indications]
        rows.append({"product": product, "indications": [
            {"diagnosis": DIAGNOSIS_WORDS.get(entry.diagnosis, entry.diagnosis), "text": indication_text(entry)}
            for entry in entries]})
    return rows


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
        what = _threshold_label(record.key)
        if record.history_type == "~" and before is not None and before.value != record.value:
            rows.append({"when": record.history_date, "who": _who(record), "what": what,
                         "old": _threshold_value(record.key, before.value),
                         "new": _threshold_value(record.key, record.value)})
        elif record.history_type == "+" and not (record.history_change_reason or "").startswith("Copied"):
            rows.append({"when": record.history_date, "who": _who(record), "what": what, "old": "not held",
                         "new": f"{_threshold_value(record.key, record.value)} ({record.history_change_reason})"})
        elif record.history_type == "-":
            rows.append({"when": record.history_date, "who": _who(record), "what": what,
                         "old": _threshold_value(record.key, record.value), "new": "not held"})
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
                if name == "indications" and old != new:
                    rows.extend(_indication_edits(record, old, new, what))
                elif old != new:
                    rows.append({"when": record.history_date, "who": _who(record),
                                 "what": f"{what}: {name.replace('_', ' ')}",
                                 "old": _product_value(old), "new": _product_value(new)})
        last[record.id] = record
    rows.sort(key=lambda row: row["when"], reverse=True)
    return rows


def _threshold_label(key: str) -> str:
    spec = THRESHOLDS_BY_KEY.get(key)
    # A retired key (criteria-v2 2.3): its value moved into the products' indication entries.
    return spec.label if spec is not None else f"{key.replace('_', ' ')} (retired: now in the products' indications)"


def _threshold_value(key: str, value) -> str:
    if key not in THRESHOLDS_BY_KEY:
        return "to be entered" if value is None else str(value)
    return value_with_unit(key, value)


def _indication_edits(record, old: list, new: list, what: str) -> list[dict[str, Any]]:
    """A product's indication entries changed in one save, entry by entry, in words."""
    before = {entry["diagnosis"]: indication_from_dict(entry) for entry in old or []}
    after = {entry["diagnosis"]: indication_from_dict(entry) for entry in new or []}
    return [{"when": record.history_date, "who": _who(record),
             "what": f"{what}: indication for {DIAGNOSIS_WORDS.get(diagnosis, diagnosis)}",
             "old": indication_text(before.get(diagnosis)), "new": indication_text(after.get(diagnosis))}
            for diagnosis in sorted(before.keys() | after.keys()) if before.get(diagnosis) != after.get(diagnosis)]


def reevaluation_state(reevaluation, *, now, stalled_after) -> dict[str, Any]:
    """The re-evaluation after a publish as the version's page and its progress endpoint show it:
    done / total, the status in words, the outcome, and whether it can be resumed."""
    parts = [f"{reevaluation.reevaluated:,} open assessment(s) re-evaluated",
             f"{reevaluation.review_requested:,} signed checklist(s) marked for a physician's review",
             f"{reevaluation.unevaluable:,} that this version cannot evaluate (marked for review, their "
             "checklist kept)"]
    if reevaluation.unchanged_signed:
        parts.append(f"{reevaluation.unchanged_signed:,} signed checklist(s) unchanged")
    if reevaluation.changed_meanwhile:
        parts.append(f"{reevaluation.changed_meanwhile:,} saved by someone meanwhile (evaluated by that save)")
    return {**run_state(reevaluation, now=now, stalled_after=stalled_after, doing="re-evaluating",
                        to_do="re-evaluate", outcome="; ".join(parts)),
            "reevaluated": reevaluation.reevaluated, "review_requested": reevaluation.review_requested,
            "unevaluable": reevaluation.unevaluable}


def preview_state(preview, *, now, stalled_after) -> dict[str, Any]:
    """An impact preview's progress as its page and progress endpoint show it (no patient data)."""
    outcome = (f"{preview.done:,} open assessment{'' if preview.done == 1 else 's'} compared; the result or an "
               f"item changes for {preview.changed:,}; {preview.unevaluable:,} cannot be evaluated under the draft")
    return {**run_state(preview, now=now, stalled_after=stalled_after, doing="comparing",
                       to_do="compare", outcome=outcome),
            "changed": preview.changed, "unevaluable": preview.unevaluable}


def run_state(run, *, now, stalled_after, doing: str, to_do: str, outcome: str) -> dict[str, Any]:
    """Background work over the open assessments (:class:`~.models.BackgroundRun`) in words:
    done / total, the status, ``outcome`` once finished, and whether it can be resumed. ``doing``
    and ``to_do``: what it does to each, e.g. "re-evaluating" and "re-evaluate"."""
    status = run.status
    stalled = run.stalled(now, stalled_after)
    total, done = run.total, run.done
    shown_total = done if total is None else max(total, done)
    minutes = max(1, int(stalled_after.total_seconds() // 60))
    if status == run.Status.FINISHED:
        text = f"Finished on {timezone.localtime(run.finished_at):%Y-%m-%d %H:%M}: {outcome}."
        label, icon = "Finished", "✓"
    elif status == run.Status.FAILED:
        label, icon = "Stopped by an error", "✗"
        text = (f"Stopped by an error ({run.error or 'unknown'}) after {done:,} of {shown_total:,} open "
                "assessments. Resume it: it goes on after the last batch done and does nothing twice. If it stops "
                "again, the task worker's log has the error.")
    elif stalled and status == run.Status.QUEUED:
        label, icon = "Not started", "!"
        text = (f"No task worker has started it for more than {minutes} minute(s). Check that a task worker runs "
                "(manage.py db_worker; make run starts one), or resume it.")
    elif stalled:
        label, icon = "Stalled", "!"
        text = (f"No progress reported for more than {minutes} minute(s) after {done:,} of {shown_total:,} open "
                "assessments: its task worker may have stopped. Resume it: it goes on after the last batch done "
                "and does nothing twice.")
    elif status == run.Status.QUEUED:
        label, icon = "Waiting", "…"
        text = f"Waiting for a task worker ({done:,} of {shown_total:,} open assessments done)." if done else (
            f"Waiting for a task worker to start {doing} the open assessments.")
    else:
        label, icon = "Running", "…"
        text = (f"{doing.capitalize()}: {done:,} of {shown_total:,} open assessments done."
                if total is not None else f"Counting the open assessments to {to_do}.")
    return {
        "status": status, "label": label, "icon": icon, "text": text, "done": done, "total": shown_total,
        "percent": 100 if status == run.Status.FINISHED else (
            int(100 * done / shown_total) if shown_total else 0),
        "finished": status == run.Status.FINISHED,
        "resumable": status == run.Status.FAILED or stalled,
    }
