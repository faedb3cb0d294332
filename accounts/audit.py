"""The audit trail as rows, for the export (CSV or JSON, streamed in chunks).

Sources, merged in time order:

- every model tracked by django-simple-history, discovered from the app registry (models that
  gain ``HistoricalRecords`` later are included without changing this module): each historical
  record is compared with the previous record of the same object (``diff_against``), one row per
  changed field (a changed JSON object, such as an assessment's case data, one row per changed
  key, e.g. ``data.ecog``); a creation or deletion is one row with the field empty and the
  object's values as the new (creation) or old (deletion) value;
- the changes made to users (``UserChange``);
- the events that the review and rule-set records keep with their own time stamps: a signature
  made and voided, a review request opened and resolved, a rule-set version created and published
  (those rows are written once and never edited, so their columns are the record; decisions have
  history records of their own and come with the first source); the hand-offs likewise: a stage
  marked ready for review and its mark cleared, a note added, each step of a question (asked,
  answered, followed up, closed);
- the audit exports themselves (``AuditExport``), each in the exports made after it.

Each row also says the field and its values in words (``field_label``, ``old_text``, ``new_text``,
after the stored ones): the app that owns a model registers how its fields read
(``describer_register``; an assessment's ``data.ecog`` is "ECOG performance status", its product code
the product's name); other fields read as their verbose names and stored values.

A row names the record by the model's name and an opaque identifier (``public_id``, or that of
the patient the record belongs to, else the primary key). Records of a patient also carry the
patient's study identifier: administrators need to know which patient; it is never logged.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any, NamedTuple

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import ForeignKey, OuterRef, Q, Subquery
from django.forms.models import model_to_dict
from django.utils import timezone

from .models import AuditExport, UserChange
from .selectors import person_label

COLUMNS = ("when", "who", "action", "record", "record_id", "study_id", "field", "old_value", "new_value",
           "field_label", "old_text", "new_text")
CHUNK = 500
HISTORY_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
#: Leading characters a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Row = dict[str, str]

#: How a tracked model's changed fields read, by model (``app_label.model_name``):
#: ``describe(field, value)`` gives ``(label, text)``, or None for a field it does not describe.
#: Registered by the app that owns the model (accounts imports no other app).
Describer = Callable[[str, Any], tuple[str, str] | None]
DESCRIBERS: dict[str, Describer] = {}


def describer_register(model_label: str, describe: Describer) -> None:
    """Register how the fields of ``model_label`` (e.g. ``"eligibility.assessment"``) read in the export."""
    DESCRIBERS[model_label.lower()] = describe


def day_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``date_from`` to the start of the day after ``date_to``, in the
    project's time zone (``settings.TIME_ZONE``): the end is excluded."""
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def tracked_models() -> list[type]:
    """Every model with django-simple-history records, in app registry order."""
    return [model for model in apps.get_models() if hasattr(model._meta, "simple_history_manager_attribute")]


class _Text:
    """Values as the export writes them: plain text, people by name and user name."""

    def __init__(self):
        self.people = {user.pk: person_label(user) for user in get_user_model().objects.all()}

    def person(self, pk) -> str:
        return "system" if pk is None else self.people.get(pk, f"user {pk}")

    def value(self, value: Any, field=None) -> str:
        if value is None:
            return ""
        if field is not None and isinstance(field, ForeignKey) and field.related_model is get_user_model():
            return self.person(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        if isinstance(value, dt.datetime):
            return timezone.localtime(value).isoformat(timespec="seconds")
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        return str(value)


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    """A JSON object as {"data.infections.hbv": ...} (an empty object has no entries); anything
    else as {prefix: value}."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}"))
    return flat


def _field_changes(name: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """One change per field; per changed key when the field holds JSON objects."""
    if isinstance(old, dict) or isinstance(new, dict):
        before, after = _flatten(old or {}, name), _flatten(new or {}, name)
        return [(path, before.get(path), after.get(path)) for path in sorted(before.keys() | after.keys())
                if before.get(path) != after.get(path)]
    return [(name, old, new)]


class _Identity:
    """How a tracked model's records are identified: its own ``public_id``, or the patient's; and
    the patient's study identifier (its own, or its patient's: a treatment episode's)."""

    def __init__(self, model):
        names = {field.name for field in model._meta.concrete_fields}
        self.pk_name = model._meta.pk.attname  # the object's key (a historical record's own is history_id)
        self.public_id = "public_id" in names
        self.study_id = "study_id" in names
        self.owner = next((field for field in model._meta.concrete_fields
                           if isinstance(field, ForeignKey) and not self.study_id
                           and {"public_id", "study_id"} <= {f.name for f in field.related_model._meta.fields}),
                          None)
        self.owner_name = self.owner.name if self.owner is not None else None

    def lookup(self, records) -> dict[int, tuple[str, str]]:
        """{owner pk: (public_id, study_id)} for the records' owners (one query)."""
        if self.owner is None:
            return {}
        pks = {getattr(record, self.owner.attname) for record in records}
        rows = self.owner.related_model.objects.filter(pk__in=pks).values_list("pk", "public_id", "study_id")
        return {pk: (str(public_id), study_id) for pk, public_id, study_id in rows}

    def of(self, record, owners) -> tuple[str, str]:
        if self.public_id:
            if self.study_id or self.owner is None:
                return str(record.public_id), record.study_id if self.study_id else ""
            return str(record.public_id), owners.get(getattr(record, self.owner.attname), ("", ""))[1]
        if self.owner is not None:
            owner = getattr(record, self.owner.attname)
            return owners.get(owner, (f"{self.owner.related_model._meta.verbose_name} {owner}", ""))
        return str(getattr(record, self.pk_name)), ""


def _chunks(queryset, date_field: str, id_field: str) -> Iterator[list]:
    """The queryset in (date, id) order, ``CHUNK`` rows at a time, by keyset (no cursor held
    between chunks, constant memory)."""
    queryset = queryset.order_by(date_field, id_field)
    chunk = list(queryset[:CHUNK])
    while chunk:
        yield chunk
        last = chunk[-1]
        after = (Q(**{f"{date_field}__gt": getattr(last, date_field)})
                 | Q(**{date_field: getattr(last, date_field), f"{id_field}__gt": getattr(last, id_field)}))
        chunk = list(queryset.filter(after)[:CHUNK])


def _history_rows(order: int, model, start, end, text: _Text) -> Iterator[tuple[tuple, Row]]:
    manager = getattr(model, model._meta.simple_history_manager_attribute)
    every = manager.all()
    previous = (every.filter(id=OuterRef("id"))
                .filter(Q(history_date__lt=OuterRef("history_date"))
                        | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id")))
                .order_by("-history_date", "-history_id").values("history_id")[:1])
    in_range = (every.filter(history_date__gte=start, history_date__lt=end)
                .annotate(previous_id=Subquery(previous)))
    identity = _Identity(model)
    label = str(model._meta.verbose_name)
    describe = DESCRIBERS.get(model._meta.label_lower)
    for chunk in _chunks(in_range, "history_date", "history_id"):
        ids = [record.previous_id for record in chunk if record.previous_id is not None]
        previous_records = {record.history_id: record for record in every.filter(history_id__in=ids)}
        owners = identity.lookup(chunk)
        for record in chunk:
            record_id, study_id = identity.of(record, owners)
            base = {"when": text.value(record.history_date), "who": text.person(record.history_user_id),
                    "record": label, "record_id": record_id, "study_id": study_id}
            key = (record.history_date, order, record.history_id)
            fields = {field.name: field for field in record.tracked_fields if field.editable}
            before = previous_records.get(record.previous_id)
            if record.history_type == "~" and before is not None:
                for change in record.diff_against(before).changes:
                    for name, old, new in _field_changes(change.field, change.old, change.new):
                        field = fields.get(name)
                        row = {**base, "action": "changed", "field": name,
                               "old_value": text.value(old, field), "new_value": text.value(new, field)}
                        described = describe(name, old) if describe else None
                        if described is not None:
                            row["field_label"], row["old_text"] = described
                            row["new_text"] = describe(name, new)[1]
                        elif field is not None:
                            row["field_label"] = str(field.verbose_name)
                        yield key, row
                continue
            # The record's own key and its patient are in the record columns already.
            shown = [name for name in fields if name not in (model._meta.pk.name, identity.owner_name)]
            values = model_to_dict(record, fields=shown)
            snapshot = text.value({name: value if isinstance(value, dict | list) else text.value(value, fields[name])
                                   for name, value in values.items()})
            words = "; ".join(f"{label}: {value}" for label, value in _snapshot_words(values, fields, describe, text)
                              if value != "")
            created = record.history_type != "-"
            # A "~" without an earlier record (history started after the object existed) shows
            # its values as found.
            yield key, {**base, "action": HISTORY_ACTIONS[record.history_type], "field": "",
                        "old_value": "" if created else snapshot, "new_value": snapshot if created else "",
                        "field_label": "", "old_text": "" if created else words, "new_text": words if created else ""}


def _snapshot_words(values: dict[str, Any], fields, describe: Describer | None,
                    text: _Text) -> Iterator[tuple[str, str]]:
    """A created or deleted record's values in words, field by field (a JSON object key by key):
    as its app describes them, else by the field's verbose name and the value as exported."""
    for name, value in values.items():
        for path, leaf in (_flatten(value, name).items() if isinstance(value, dict) else [(name, value)]):
            described = describe(path, leaf) if describe else None
            if described is not None:
                yield described
            else:
                field = fields.get(path)
                label = str(field.verbose_name) if field is not None else path.replace("_", " ")
                yield label, text.value(leaf, field)


def _user_change_rows(order: int, start, end, text: _Text) -> Iterator[tuple[tuple, Row]]:
    changes = UserChange.objects.filter(at__gte=start, at__lt=end).select_related("user")
    for chunk in _chunks(changes, "at", "id"):
        for change in chunk:
            yield (change.at, order, change.pk), {
                "when": text.value(change.at), "who": change.by_name, "action": change.get_action_display().lower(),
                "record": "user", "record_id": change.user.username, "study_id": "", "field": change.field,
                "old_value": change.old_value, "new_value": change.new_value}


def _export_rows(order: int, start, end, before: AuditExport | None, text: _Text) -> Iterator[tuple[tuple, Row]]:
    exports = AuditExport.objects.filter(at__gte=start, at__lt=end)
    if before is not None:
        exports = exports.filter(pk__lt=before.pk)
    for chunk in _chunks(exports, "at", "id"):
        for export in chunk:
            yield (export.at, order, export.pk), {
                "when": text.value(export.at), "who": export.by_name, "action": "exported", "record": "audit export",
                "record_id": str(export.pk), "study_id": "", "field": "", "old_value": "",
                "new_value": export.summary}


class _Event(NamedTuple):
    """An event a record keeps in its own columns: when, who, and what it says."""

    model: str  # "app_label.Model"
    at: str  # the time field
    action: str
    who: Callable[[Any, _Text], str]
    field: str
    value: Callable[[Any], str]
    patient: str | None  # the path to the patient, for the record's identifiers
    only: dict | None = None  # the records this event is (filter), where one model keeps several kinds


EVENTS = (
    # The meaning names the decision ("Not approved: deferred ...").
    _Event("eligibility.SignOff", "signed_at", "signed", lambda r, t: r.signer_name, "meaning",
           lambda r: f"{r.meaning} (SHA-256 {r.content_hash})", "assessment__patient"),
    _Event("eligibility.SignOff", "voided_at", "voided", lambda r, t: t.person(r.voided_by_id), "void_reason",
           lambda r: r.void_reason, "assessment__patient"),
    _Event("eligibility.ReviewRequest", "created_at", "review requested", lambda r, t: "system", "message",
           lambda r: r.message, "assessment__patient"),
    _Event("eligibility.ReviewRequest", "resolved_at", "review resolved", lambda r, t: r.resolved_by_name,
           "resolution", lambda r: f"{r.get_resolution_display()}: {r.justification}", "assessment__patient"),
    _Event("eligibility.ReadyMark", "marked_at", "marked ready for review", lambda r, t: r.marked_by_name, "stage",
           lambda r: r.get_stage_display(), "assessment__patient"),
    _Event("eligibility.ReadyMark", "cleared_at", "ready for review cleared", lambda r, t: r.cleared_by_name,
           "clearance", lambda r: r.get_clearance_display(), "assessment__patient"),
    _Event("eligibility.Note", "created_at", "note added", lambda r, t: r.author_name, "text",
           lambda r: f"{r.item_title}: {r.text}" if r.code else r.text, "patient"),
    *(_Event("eligibility.QuestionEntry", "at", action, lambda r, t: r.by_name, "text",
             lambda r: f"{r.question.item_title}: {r.text}" if r.text else r.question.item_title,
             "question__assessment__patient", {"kind": kind})
      for kind, action in (("asked", "question asked"), ("answered", "question answered"),
                           ("follow_up", "question followed up"), ("closed", "question closed"))),
    _Event("eligibility.RuleSet", "created_at", "created", lambda r, t: t.person(r.created_by_id), "version",
           lambda r: f"{r.name}, version {r.version}", None),
    _Event("eligibility.RuleSet", "published_at", "published", lambda r, t: t.person(r.published_by_id),
           "change_note", lambda r: r.change_note, None),
)


def _event_rows(order: int, event: _Event, start, end, text: _Text) -> Iterator[tuple[tuple, Row]]:
    model = apps.get_model(event.model)
    records = model.objects.filter(**{f"{event.at}__gte": start, f"{event.at}__lt": end}, **(event.only or {}))
    if event.patient:
        records = records.select_related(event.patient)
    label = str(model._meta.verbose_name)
    for chunk in _chunks(records, event.at, "id"):
        for record in chunk:
            at = getattr(record, event.at)
            patient = record
            for step in (event.patient or "").split("__") if event.patient else ():
                patient = getattr(patient, step)
            record_id = str(getattr(record, "public_id", "") or record.pk)
            yield (at, order, record.pk), {
                "when": text.value(at), "who": event.who(record, text), "action": event.action, "record": label,
                "record_id": record_id, "study_id": patient.study_id if event.patient else "",
                "field": event.field, "old_value": "", "new_value": event.value(record)}


def audit_rows(*, date_from: dt.date, date_to: dt.date, before: AuditExport | None = None) -> Iterator[Row]:
    """Every row of the audit trail from ``date_from`` to ``date_to`` (whole days, both
    included), oldest first. ``before``: the export being written (it lists only earlier exports)."""
    start, end = day_range(date_from, date_to)
    text = _Text()
    models = tracked_models()
    sources = [_history_rows(order, model, start, end, text) for order, model in enumerate(models)]
    sources.append(_user_change_rows(len(models), start, end, text))
    sources.append(_export_rows(len(models) + 1, start, end, before, text))
    sources += [_event_rows(len(models) + 2 + index, event, start, end, text) for index, event in enumerate(EVENTS)]
    for _, row in heapq.merge(*sources, key=lambda item: item[0]):
        yield _in_words(row)


def _in_words(row: Row) -> Row:
    """The row with its field and values in words: as described, else the stored ones."""
    row.setdefault("field_label", row["field"].replace("_", " "))
    row.setdefault("old_text", row["old_value"])
    row.setdefault("new_text", row["new_value"])
    return row


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula (numbers stay numbers)."""
    if value.startswith(FORMULA_PREFIXES):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


class _Line:
    """A file-like object whose ``write`` returns the line, for ``csv.writer`` (streamed)."""

    def write(self, line: str) -> str:
        return line


def render(rows: Iterable[Row], format: str, counter: list[int]) -> Iterator[str]:
    """The rows as CSV (a header line, then a line per row) or a JSON array of objects, in pieces
    of about 64 KB. ``counter[0]`` counts the rows written."""
    pending: list[str] = []
    size = 0
    writer = csv.writer(_Line())
    if format == "csv":
        pending.append(writer.writerow(COLUMNS))
    else:
        pending.append("[")
    for row in rows:
        if format == "csv":
            piece = writer.writerow([_cell(row[column]) for column in COLUMNS])
        else:
            piece = ("," if counter[0] else "") + "\n" + json.dumps({column: row[column] for column in COLUMNS},
                                                                     ensure_ascii=False)
        counter[0] += 1
        pending.append(piece)
        size += len(piece)
        if size >= 65536:
            yield "".join(pending)
            pending, size = [], 0
    if format == "json":
        pending.append("\n]\n")
    yield "".join(pending)


def export_stream(export: AuditExport) -> Iterator[str]:
    """The file of a recorded export, piece by piece; when it is complete, its row count is kept."""
    from .services import audit_export_complete

    counter = [0]
    yield from render(audit_rows(date_from=export.date_from, date_to=export.date_to, before=export),
                      export.format, counter)
    audit_export_complete(export=export, row_count=counter[0])


def export_filename(export: AuditExport) -> str:
    return f"audit-trail-{export.date_from.isoformat()}-to-{export.date_to.isoformat()}.{export.format}"

