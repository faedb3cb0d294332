"""Writes: create patients, save assessments (validate, evaluate, keep history). Views call these."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from . import review
from .models import Assessment, Disposition, Evaluation, Patient, ReviewRequest, SignOff
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


def checklist_changes(old_items: dict[str, dict[str, Any]], items) -> list[dict[str, Any]]:
    """The items whose status or reason differ from ``old_items`` (by code), as an evaluation's
    ``changes``: ``[{"code", "title", "before", "after", "reason_changed"}]``."""
    changes = []
    for item in items:
        old = old_items.get(item["code"])
        if old is not None and (old["status"] != item["status"] or old["reason"] != item["reason"]):
            changes.append({"code": item["code"], "title": item["title"], "before": old["status"],
                            "after": item["status"], "reason_changed": old["reason"] != item["reason"]})
    return changes


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


def _open_request(request: ReviewRequest) -> ReviewRequest:
    request = (ReviewRequest.objects.select_for_update(of=("self",)).select_related("assessment__patient", "ruleset")
               .get(pk=request.pk))
    if not request.is_open:
        raise review.ReviewRefused(f"This review request was resolved already ({request.get_resolution_display()} "
                                   f"by {request.resolved_by_name}).")
    return request


def _resolve(request: ReviewRequest, resolution: str, justification: str, by) -> None:
    request.resolution = resolution
    request.justification = justification
    request.resolved_by = by
    request.resolved_by_name = review.signer_name(by)
    request.resolved_at = timezone.now()
    request.save(update_fields=["resolution", "justification", "resolved_by", "resolved_by_name", "resolved_at"])


@transaction.atomic
def review_request_keep(*, request: ReviewRequest, justification: str, by) -> ReviewRequest:
    """The physician keeps the signed checklist under its own version: recorded with why."""
    request = _open_request(request)
    if not SignOff.objects.filter(evaluation_id=request.evaluation_id, voided_at__isnull=True).exists():
        raise review.ReviewRefused("This checklist is not signed: there is no signed checklist to keep. It is "
                                   "re-evaluated when its data are corrected.")
    justification = justification.strip()
    if not justification:
        raise review.ReviewRefused("Keeping the signed checklist needs a justification: write it.")
    _resolve(request, ReviewRequest.Resolution.KEPT, justification, by)
    return request


@transaction.atomic
def review_request_reevaluate(*, request: ReviewRequest, by) -> Evaluation:
    """The physician takes the new version: a new checklist under the active version replaces the
    pinned one, the standing signature is voided (the new checklist needs signing) and decisions on
    unchanged findings carry over."""
    request = _open_request(request)
    # Locked alone (PostgreSQL locks no row of an outer join); the pinned evaluation is read after.
    assessment = Assessment.objects.select_for_update().get(pk=request.assessment_id)
    previous = assessment.current_evaluation
    ruleset, engine = active_engine()
    try:
        case = engine.parse({**assessment.data, "stage": assessment.stage,
                             "case_id": str(request.assessment.patient.public_id)})
    except CaseValidationError as exc:
        problems = "; ".join(f"{error['field']}: {error['message']}" for error in exc.errors)
        raise review.ReviewRefused(f"The data cannot be evaluated under version {ruleset.version} ({problems}); "
                                   "the coordinator must correct them first.") from exc
    checklist = engine.evaluate(case)
    changes = checklist_changes({item["code"]: item for item in previous.checklist["items"]}, checklist.items)
    evaluation = evaluation_build(assessment_id=assessment.pk, ruleset=ruleset, case=case, checklist=checklist,
                                  by=by, reevaluated_from=previous, changes=changes)
    evaluation.save()
    Assessment.objects.filter(pk=assessment.pk).update(current_evaluation=evaluation)
    SignOff.objects.filter(assessment=assessment, voided_at__isnull=True).update(
        voided_at=timezone.now(), voided_by=by,
        void_reason=f"Re-evaluated under rule-set version {ruleset.version} at the request of "
                    f"{review.signer_name(by)}; the new checklist needs signing.")
    Disposition.objects.bulk_create(review.carried_dispositions(previous.dispositions.all(), evaluation))
    _resolve(request, ReviewRequest.Resolution.REEVALUATED, f"Re-evaluated under version {ruleset.version}.", by)
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


__all__ = ["CaseValidationError", "ConcurrentEdit", "assessment_update", "patient_create", "review_request_keep",
           "review_request_reevaluate"]
