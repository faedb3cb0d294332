"""Writes: create patients, save assessments (validate, evaluate, keep history). Views call these."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from . import review
from .models import Assessment, Evaluation, Patient
from .rules import CaseValidationError
from .rules.case import case_as_dict
from .selectors import active_engine


class ConcurrentEdit(Exception):
    """Someone else saved the assessment since this edit began."""

    def __init__(self, assessment: Assessment):
        self.assessment = assessment
        super().__init__("The assessment was changed by someone else since you opened it.")


def evaluation_build(*, assessment_id: int, ruleset, case, checklist, by, **extra) -> Evaluation:
    """An (unsaved) evaluation row: the case as evaluated, its checklist, counts and rule-set version."""
    counts = checklist.counts
    return Evaluation(
        assessment_id=assessment_id,
        ruleset=ruleset,
        stage=checklist.stage,
        inputs=case_as_dict(case),
        checklist=checklist.as_dict(),
        overall=checklist.overall,
        flag_count=counts["flag"],
        missing_count=counts["missing"],
        defer_count=counts["defer"],
        exclude_count=counts["exclude"],
        created_by=by,
        **extra,
    )


def _evaluate(*, assessment: Assessment, by) -> Evaluation:
    """Evaluate the assessment's data under the active rule set and keep the result."""
    ruleset, engine = active_engine()
    case = engine.parse({**assessment.data, "stage": assessment.stage, "case_id": str(assessment.patient.public_id)})
    evaluation = evaluation_build(assessment_id=assessment.pk, ruleset=ruleset, case=case,
                                  checklist=engine.evaluate(case), by=by)
    evaluation.save()
    assessment.current_evaluation = evaluation
    Assessment.objects.filter(pk=assessment.pk).update(current_evaluation=evaluation)
    return evaluation


@transaction.atomic
def patient_create(*, study_id: str, initials: str, by) -> Patient:
    """A new patient with an empty assessment at the screening stage, evaluated at once."""
    patient = Patient(study_id=study_id, initials=initials, created_by=by)
    patient._history_user = by
    patient.save()
    assessment = Assessment(patient=patient, updated_by=by)
    assessment._history_user = by
    assessment.save()
    _evaluate(assessment=assessment, by=by)
    return patient


@transaction.atomic
def assessment_update(*, assessment: Assessment, changes: dict[str, Any], stage: str, revision: int, by) -> Evaluation:
    """Save the changed case values of one section and re-evaluate (a save that changes nothing
    writes nothing: the standing checklist and any signature on it stay).

    ``changes`` maps top-level case keys to their new values (``None`` = not recorded, removed
    from the data). ``revision`` is the revision the user's form was built from: if someone
    saved since, :class:`ConcurrentEdit` is raised and nothing is written. Invalid data raises
    :class:`CaseValidationError` (from the engine's validation) and nothing is written.
    """
    data = {key: value for key, value in {**assessment.data, **changes}.items() if value is not None}
    # Validate before writing anything: the engine's validation is the only one.
    _, engine = active_engine()
    engine.parse({**data, "stage": stage})
    changed = _changed_paths(assessment.data, data) + (["stage"] if stage != assessment.stage else [])
    if not changed and assessment.current_evaluation is not None and revision == assessment.revision:
        # Nothing to record: the standing checklist (and any signature on it) stays as it is.
        return assessment.current_evaluation
    # Claim the next revision: one statement, so two saves of the same revision cannot both pass.
    claimed = Assessment.objects.filter(pk=assessment.pk, revision=revision).update(revision=revision + 1)
    if not claimed:
        assessment.refresh_from_db()
        raise ConcurrentEdit(assessment)
    previous = assessment.current_evaluation
    assessment.data = data
    assessment.stage = stage
    assessment.revision = revision + 1
    assessment.updated_by = by
    assessment._history_user = by
    assessment.save()
    evaluation = _evaluate(assessment=assessment, by=by)
    review.after_reevaluation(assessment=assessment, previous=previous, current=evaluation, by=by, changed=changed)
    return evaluation


def _changed_paths(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The case paths whose values differ (groups one level deep, as the forms show them)."""
    changed = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if key in ("infections", "organ_function") and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            old, new = old or {}, new or {}
            changed += [f"{key}.{name}" for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)]
        elif old != new:
            changed.append(key)
    return changed


__all__ = ["CaseValidationError", "ConcurrentEdit", "assessment_update", "patient_create"]
