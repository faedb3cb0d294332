"""What the patient pages show of stored data: the history of changes, who changed what meanwhile."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.conf import settings
from markupsafe import Markup, escape

from ..common import compiled
from ..common.display import CASE_GROUPS, input_label, input_text
from ..common.display import history_who as _who
from ..common.jinja import date
from ..common.vocabulary import STAGE_LABELS
from ..rulesets.selectors import product_names
from .models import Assessment, Patient
from .selectors import page_part_may_have
from .signals import HISTORY_SOURCES, page_part


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Case data by the paths the forms record (a group's members one by one: ``labs.bilirubin``)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in CASE_GROUPS:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def history_rows(assessment, limit: int = 200) -> list[dict[str, Any]]:
    """Every recorded change of the assessment: who, when, which value, old and new."""
    records = compiled.objects_for("episode history", lambda key: Assessment.history.filter(id=key).select_related(
        "history_user").order_by("history_date", "history_id"), assessment.pk)
    rows: list[dict[str, Any]] = []
    previous_data: dict[str, Any] = {}
    previous_stage = previous_record = None
    products = product_names()
    for record in records:
        who = _who(record)
        before, after = _flatten(previous_data), _flatten(record.data or {})
        for path in sorted(before.keys() | after.keys()):
            if before.get(path) != after.get(path):
                rows.append({"when": record.history_date, "who": who, "field": input_label(path),
                             "old": input_text(path, before.get(path), products),
                             "new": input_text(path, after.get(path), products)})
        if previous_stage is not None and record.stage != previous_stage:
            rows.append({"when": record.history_date, "who": who, "field": input_label("stage"),
                         "old": STAGE_LABELS[previous_stage], "new": STAGE_LABELS[record.stage]})
        rows += _key_date_rows(previous_record, record, who)
        previous_data, previous_stage, previous_record = record.data or {}, record.stage, record
    rows += _episode_rows(assessment)
    rows += _patient_rows(assessment.patient) if page_part_may_have(assessment, "patient changes") else []
    for source in HISTORY_SOURCES:  # e.g. hand-offs, registered by the review package
        rows += source(assessment)
    rows.sort(key=lambda row: row["when"], reverse=True)
    return rows[:limit]


def history_rows_html(rows: list[dict[str, Any]]) -> Markup:
    """The patient page's history table rows (:func:`history_rows`), as its template's loop wrote them
    (patients/patient_detail.jinja): each row written once per process for its values (the same
    change shows the same on every page, 30 rows a first episode's history)."""
    zone = settings.TIME_ZONE
    parts = []
    for row in rows:
        values = (row["when"], row["who"], row["field"], row["old"], row["new"], zone)
        try:
            parts.append(_history_row(*values))
        except TypeError:  # a value that cannot be a key
            parts.append(_history_row.__wrapped__(*values))
    return Markup("".join(parts))  # noqa: S704 (every value escaped)


@lru_cache(maxsize=8192, typed=True)  # typed: HTML and its text, 1 and True apart
def _history_row(when, who, field, old, new, zone: str) -> str:
    return (f'\n    <tr><td>{escape(date(when, "Y-m-d H:i:s"))}</td><td>{escape(who)}</td><td>{escape(field)}</td>'
            f"<td>{escape(old)}</td><td>{escape(new)}</td></tr>\n  ")


def _episode_rows(assessment) -> list[dict[str, Any]]:
    """The episode opened (after episode 1: its kind, what it started from) and closed (why)."""
    from ..common.people import display_name

    rows = []
    if assessment.opened_at and assessment.number > 1:
        start = f"started from the values of episode {assessment.started_from.number}" if assessment.started_from_id \
            else "started with nothing recorded"
        rows.append({"when": assessment.opened_at, "who": display_name(assessment.opened_by), "field": "Episode",
                     "old": "", "new": f"Episode {assessment.number} ({assessment.get_kind_display()}) opened, "
                                       f"{start}"})
    if assessment.closed_at:
        note = assessment.close_note
        if assessment.close_reason == "superseded" and note:  # "Replaced by episode 2 (Re-collection)" says it all
            why = note[0].lower() + note[1:]
        else:
            why = assessment.get_close_reason_display().lower() + (f" ({note})" if note else "")
        rows.append({"when": assessment.closed_at, "who": display_name(assessment.closed_by), "field": "Episode",
                     "old": "open", "new": f"closed: {why}"})
    return rows


def _episode_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "not recorded" if value is None else value.isoformat()


def _key_date_rows(previous, record, who: str) -> list[dict[str, Any]]:
    """Changes of the episode's own key dates and done flags (the key-dates page) between two records."""
    from .services import EPISODE_FIELDS

    if previous is None:
        return []
    return [{"when": record.history_date, "who": who, "field": label,
             "old": _episode_value(getattr(previous, name)), "new": _episode_value(getattr(record, name))}
            for name, label in EPISODE_FIELDS.items() if getattr(previous, name) != getattr(record, name)]


# Whether the patient's own history has more than its first record (a correction, a withdrawal, a
# restoration): without one, the patient page does not read it (``_patient_rows`` would show nothing).
page_part("patient changes")(lambda episode, patient, checklist: Patient.history.filter(id=patient).exclude(
    history_type="+"))


#: The patient's own fields shown in its history, with their labels.
PATIENT_FIELDS = {"study_id": "Study identifier", "initials": "Initials"}


def _patient_rows(patient) -> list[dict[str, Any]]:
    """Corrections of the identifier and initials, withdrawals and restorations."""
    rows, previous = [], None
    for record in compiled.objects_for("patient history", lambda key: Patient.history.filter(id=key).select_related(
            "history_user").order_by("history_date", "history_id"), patient.pk):
        if previous is not None:
            who = _who(record)
            for name, label in PATIENT_FIELDS.items():
                if getattr(previous, name) != getattr(record, name):
                    rows.append({"when": record.history_date, "who": who, "field": label,
                                 "old": getattr(previous, name), "new": getattr(record, name)})
            if (previous.withdrawn_at is None) != (record.withdrawn_at is None):
                withdrawn = record.withdrawn_at is not None
                rows.append({"when": record.history_date, "who": who, "field": "Withdrawal",
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
