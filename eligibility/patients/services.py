"""Patients, writes: create, correct, withdraw and restore patients; save an assessment's section
and re-evaluate. Views call these."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models.functions import Upper
from django.utils import timezone

from ..common.display import CASE_GROUPS, input_label
from ..common.jsoncodec import EncodedJSON
from ..common.people import display_name
from ..common.text import free_text_too_long
from ..rules import CaseValidationError, ChecklistItem, case_as_dict, case_as_json, native
from ..rulesets.selectors import active_engine
from . import lifecycle
from .episodes_services import closed_refusal
from .models import Assessment, Evaluation, Patient
from .signals import patient_restored, write_refusal


class ConcurrentEdit(Exception):
    """Someone else saved the assessment since this edit began."""

    def __init__(self, assessment: Assessment):
        self.assessment = assessment
        super().__init__("The assessment was changed by someone else since you opened it.")


def evaluation_build(*, assessment_id: int, ruleset, case, checklist, by, **extra) -> Evaluation:
    """An (unsaved) evaluation row: the case as evaluated, its checklist, counts and rule-set version."""
    return _evaluation(assessment_id=assessment_id, ruleset=ruleset, inputs=case_as_dict(case),
                       checklist=checklist.as_dict(), case=case, checklist_=checklist, by=by, **extra)


def evaluation_build_encoded(*, assessment_id: int, ruleset, case, checklist, by, **extra) -> Evaluation:
    """:func:`evaluation_build` with the case and the checklist held as the JSON they are stored as
    (:class:`~eligibility.common.jsoncodec.EncodedJSON`, decoded only if read): each encoded once,
    never built as dictionaries and encoded again (the bulk re-evaluation's per-row cost)."""
    return _evaluation(assessment_id=assessment_id, ruleset=ruleset, inputs=EncodedJSON(case_as_json(case)),
                       checklist=EncodedJSON(checklist.as_json()), case=case, checklist_=checklist, by=by, **extra)


def _evaluation(*, assessment_id, ruleset, inputs, checklist, case, checklist_, by, **extra) -> Evaluation:
    counts = checklist_.counts
    return Evaluation(
        assessment_id=assessment_id,
        ruleset=ruleset,
        stage=checklist_.stage,
        inputs=inputs,
        checklist=checklist,
        overall=checklist_.overall,
        flag_count=counts["flag"],
        missing_count=counts["missing"],
        defer_count=counts["defer"],
        exclude_count=counts["exclude"],
        created_by=by,
        as_of=evaluation_date(case),
        **extra,
    )


def evaluation_date(case) -> datetime.date:
    """The evaluation date an evaluation of ``case`` used (criteria-v2 2.5, 3.1): the case's
    ``as_of`` where it holds one, else the date it was parsed with (today in the programme's time
    zone, as every parse here passes)."""
    return case.evaluation_date


def checklist_changes(old_items: Iterable[ChecklistItem], items: Iterable[ChecklistItem]) -> list[dict[str, Any]]:
    """The items whose status or reason differ from the ``old_items`` of the same code, as an
    evaluation's ``changes``: ``[{"code", "title", "before", "after", "reason_changed"}]``. Items are
    matched by code, not position (criteria-v2 2.1): an item on one side only is a change, its
    ``before`` (a rule the new version enables) or ``after`` (one it disables) ``None``."""
    old_by_code = {old.code: old for old in old_items}
    changes = []
    for item in items:
        old = old_by_code.pop(item.code, None)
        if old is None:
            changes.append({"code": item.code, "title": item.title, "before": None, "after": item.status,
                            "reason_changed": True})
        elif old.status != item.status or old.reason != item.reason:
            changes.append({"code": item.code, "title": item.title, "before": old.status,
                            "after": item.status, "reason_changed": old.reason != item.reason})
    changes.extend({"code": old.code, "title": old.title, "before": old.status, "after": None,
                    "reason_changed": True} for old in old_by_code.values())
    return changes


class PatientRefused(Exception):
    """A patient record that cannot be written; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class WorkupClosed(Exception):
    """Nothing can be recorded: the patient is withdrawn, or a package above refused the save (e.g. a
    work-up closed as not eligible by a physician's signature, which a physician can reopen)."""


def evaluation_of(*, assessment: Assessment, engine, ruleset, by) -> Evaluation:
    """An unsaved evaluation of the assessment's data under ``ruleset`` (its ``engine``); raises
    :class:`CaseValidationError` when that version cannot evaluate them."""
    case = engine.parse({**assessment.data, "stage": assessment.stage, "case_id": str(assessment.patient.public_id)},
                        timezone.localdate())
    return evaluation_build(assessment_id=assessment.pk, ruleset=ruleset, case=case,
                            checklist=engine.evaluate(case), by=by)


def _identifier_key(study_id: str) -> str:
    """The form an identifier is unique in: no surrounding spaces, any letter case."""
    return study_id.strip().upper()


def _identifier_lock(study_id: str) -> None:
    """Serialise writers of one identifier (any letter case) until the transaction ends, so that the
    check for a duplicate and the write cannot interleave: a duplicate becomes a form error, never a
    unique-constraint violation (whose message would carry the identifier into the database
    server's log). PostgreSQL: an advisory lock on a hash of the identifier (the identifier itself
    is not sent); SQLite serialises writers already (transactions begin IMMEDIATE)."""
    if connection.vendor == "postgresql":
        digest = hashlib.sha256(_identifier_key(study_id).encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])


def _identifier_taken(study_id: str, *, exclude_pk: int | None = None) -> bool:
    others = Patient.objects.annotate(key=Upper("study_id")).filter(key=_identifier_key(study_id))
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


DUPLICATE_IDENTIFIER = ("A patient with this study identifier exists already (letter case and spaces do not make "
                        "identifiers different). Open that patient from the worklist, or check the identifier.")


@transaction.atomic
def patient_create(*, study_id: str, initials: str, by) -> Patient:
    """A new patient with an empty assessment at the screening stage, evaluated at once.

    Refused (:class:`PatientRefused` on ``study_id``) when the identifier exists in any letter case.
    """
    study_id, initials = study_id.strip(), initials.strip().upper()
    _identifier_lock(study_id)
    if _identifier_taken(study_id):
        raise PatientRefused(DUPLICATE_IDENTIFIER, field="study_id")
    patient = Patient(study_id=study_id, initials=initials, created_by=by)
    patient._history_user = by
    patient.save()
    assessment = Assessment(patient=patient, updated_by=by, opened_by=by, opened_at=patient.created_at)
    assessment._history_user = by
    assessment.save()
    patient.assessment = assessment  # episode 1 (first work-up), current; the episode's history records it
    Patient.objects.filter(pk=patient.pk).update(assessment=assessment)
    ruleset, engine = active_engine()
    evaluation = evaluation_of(assessment=assessment, engine=engine, ruleset=ruleset, by=by)
    lifecycle.install_one(assessment=assessment, evaluation=evaluation, void_reason="", request_note="", by=by)
    return patient


def _patient_locked(patient: Patient) -> Patient:
    """The patient's row locked, after its assessment's (the order every save takes), so that a
    withdrawal or restoring and a coordinator's save never interleave."""
    lifecycle.assessments_lock(Assessment.objects.filter(patient_id=patient.pk).values_list("pk", flat=True))
    return Patient.objects.select_for_update().get(pk=patient.pk)


@transaction.atomic
def patient_identity_update(*, patient: Patient, study_id: str, initials: str, by) -> Patient:
    """Correct a patient's study identifier or initials (recorded in the history)."""
    study_id, initials = study_id.strip(), initials.strip().upper()
    _identifier_lock(study_id)
    patient = _patient_locked(patient)
    if _identifier_taken(study_id, exclude_pk=patient.pk):
        raise PatientRefused(DUPLICATE_IDENTIFIER, field="study_id")
    if (patient.study_id, patient.initials) == (study_id, initials):
        return patient
    patient.study_id, patient.initials = study_id, initials
    patient._history_user = by
    patient.save(update_fields=["study_id", "initials"])
    return patient


@transaction.atomic
def patient_withdraw(*, patient: Patient, reason: str, by) -> Patient:
    """Withdraw a patient (entered by mistake, consent withdrawn, ...): the patient leaves the
    worklists, queues and re-evaluations and stays in the history; nothing is deleted."""
    reason = reason.strip()
    if not reason:
        raise PatientRefused("Say why the patient is withdrawn.", field="reason")
    if too_long := free_text_too_long(reason):
        raise PatientRefused(too_long, field="reason")
    patient = _patient_locked(patient)
    if patient.is_withdrawn:
        raise PatientRefused(f"This patient was withdrawn already ({patient.withdrawn_at:%Y-%m-%d %H:%M}).")
    patient.withdrawn_at, patient.withdrawn_by, patient.withdrawal_reason = timezone.now(), by, reason
    patient._history_user = by
    patient.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    return patient


@transaction.atomic
def patient_restore(*, patient: Patient, by) -> Patient:
    """An administrator restores a withdrawn patient (the withdrawal stays in the history)."""
    patient = _patient_locked(patient)
    if not patient.is_withdrawn:
        raise PatientRefused("This patient is not withdrawn.")
    patient.withdrawn_at, patient.withdrawn_by, patient.withdrawal_reason = None, None, ""
    patient._history_user = by
    patient.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    # Versions published while the patient was withdrawn left it out (the review package evaluates
    # the patient now, as they would have).
    patient_restored.send(sender=Patient, patient=patient, by=by)
    return patient


#: The episode's own fields a save may write beside the case (issue 14: the key dates the engine does
#: not read and the done flags), with the words the history names them by.
EPISODE_FIELDS = {
    "consent_on": "Consent signed",
    "screening_on": "Screening visit",
    "leukapheresis_done": "Leukapheresis done",
    "lymphodepletion_done": "Lymphodepletion started",
    "infusion_done": "Infusion given",
}


@transaction.atomic
def assessment_update(*, assessment: Assessment, changes: dict[str, Any], stage: str, revision: int, by,
                      episode_fields: dict[str, Any] | None = None) -> Evaluation:
    """Save the changed case values of one section and re-evaluate (a save that changes nothing
    writes nothing: the standing checklist and any signature on it stay).

    ``changes`` maps top-level case keys to their new values (``None`` = not recorded, removed
    from the data). ``revision`` is the revision the user's form was built from: if someone
    saved since, :class:`ConcurrentEdit` is raised and nothing is written. Invalid data raises
    :class:`CaseValidationError` (from the engine's validation) and nothing is written. A withdrawn
    patient or a work-up closed as not eligible is refused (:class:`WorkupClosed`).

    The assessment's row is locked first and everything is read after: the data, the revision and
    the active rule-set version are those committed when the lock was granted, so a save never
    evaluates under a version retired meanwhile without the publish's re-evaluation seeing it.

    ``episode_fields`` (the key-dates page): the episode's own fields (:data:`EPISODE_FIELDS`) to
    write in the same transaction, under the same lock and revision. A save that changes only those
    bumps the revision and is in the history, but makes no new evaluation (the engine does not read
    them): the standing checklist and any signature on it stay.
    """
    episode_fields = episode_fields or {}
    unknown = set(episode_fields) - set(EPISODE_FIELDS)
    if unknown:
        raise ValueError(f"not episode fields: {sorted(unknown)}")
    assessment = lifecycle.assessment_locked(assessment.pk)
    if revision != assessment.revision:
        raise ConcurrentEdit(assessment)
    if closed := closed_refusal(assessment):  # an episode closed (or replaced by a new one) meanwhile
        raise WorkupClosed(closed)
    if assessment.patient.is_withdrawn:
        raise WorkupClosed("This patient has been withdrawn: nothing can be recorded. An administrator can restore "
                           "the patient.")
    refusal = write_refusal(assessment)  # e.g. a work-up closed by a physician's signature
    if refusal:
        raise WorkupClosed(refusal)
    data = {key: value for key, value in {**assessment.data, **changes}.items() if value is not None}
    ruleset, engine = active_engine()
    data = _stamp_counselling(assessment.data, data, engine)
    # Validate before writing anything: the engine's validation is the only one.
    engine.parse({**data, "stage": stage}, timezone.localdate())
    changed = _changed_paths(assessment.data, data) + (["stage"] if stage != assessment.stage else [])
    episode_changed = [name for name, value in episode_fields.items() if getattr(assessment, name) != value]
    if not changed and assessment.current_evaluation is not None:
        if episode_changed:
            # Only the episode's own fields: recorded (revision, history), nothing re-evaluated.
            for name in episode_changed:
                setattr(assessment, name, episode_fields[name])
            assessment.revision = revision + 1
            assessment.updated_by = by
            assessment._history_user = by
            assessment.save()
        # Nothing the engine reads changed: the standing checklist (and any signature on it) stays as it is.
        return assessment.current_evaluation
    for name in episode_changed:
        setattr(assessment, name, episode_fields[name])
    assessment.data = data
    assessment.stage = stage
    assessment.revision = revision + 1
    assessment.updated_by = by
    assessment._history_user = by
    assessment.save()
    evaluation = evaluation_of(assessment=assessment, engine=engine, ruleset=ruleset, by=by)
    what = ", ".join(input_label(path) for path in changed) or input_label("stage")  # labels, not case keys
    return lifecycle.install_one(
        assessment=assessment, evaluation=evaluation, by=by,
        void_reason=f"Data changed by {display_name(by)}: {what}.",
        request_note=f"Data changed: {what}. Re-evaluated under rule-set version {ruleset.version}.")


#: The case key that records, with a "yes" to driving counselling, the restriction in weeks that
#: was explained; the threshold it was explained under.
COUNSELLED_WEEKS = "driving_counselled_weeks"
COUNSELLED_WEEKS_THRESHOLD = "driving_restriction_weeks"


def _stamp_counselling(before: dict[str, Any], data: dict[str, Any], engine) -> dict[str, Any]:
    """Store what was counselled with the answer: a "yes" newly recorded, or confirmed again with
    ``driving_counselled_confirm``, carries the restriction in force now; a "no" or nothing carries
    none; an earlier "yes" keeps what it carried (one recorded before this existed carries nothing
    and reads as it always did). A later version with another restriction then cannot make the
    record say what was never said: the rule asks for confirmation instead."""
    confirm = data.pop("driving_counselled_confirm", None)
    if data.get("driving_counselled") is not True:
        data.pop(COUNSELLED_WEEKS, None)
    elif confirm or before.get("driving_counselled") is not True:
        data[COUNSELLED_WEEKS] = native(engine.ruleset.thresholds[COUNSELLED_WEEKS_THRESHOLD])
    return data


def _changed_paths(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The case paths whose values differ (groups one level deep, as the forms show them)."""
    changed = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if key in CASE_GROUPS and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old, new = old or {}, new or {}
            changed += [f"{key}.{name}" for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)]
        elif old != new:
            changed.append(key)
    return changed


__all__ = ["EPISODE_FIELDS", "CaseValidationError", "ConcurrentEdit", "PatientRefused", "WorkupClosed",
           "assessment_update", "checklist_changes", "evaluation_build", "evaluation_of", "patient_create",
           "patient_identity_update", "patient_restore", "patient_withdraw"]
