"""The lifecycle of a checklist, in one place.

Three paths give an assessment a new current evaluation: a coordinator's save, the bulk
re-evaluation after a rule-set version is published, and a physician's re-evaluation at a review
request. All three lock the assessments' rows with :func:`assessments_lock` and then hand the new
evaluations to :func:`evaluations_install`, which sets them current, voids the standing signature
where the checklist it signed is replaced, closes the open review requests, and carries decisions
on unchanged findings over. The sign-off and the decisions take the same row lock, so a signature
is only ever made on the evaluation that is current when it commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from .models import Assessment, Disposition, Evaluation, ReviewRequest, SignOff


def signer_name(user) -> str:
    """How a user is named on a record (printed name, else the user name)."""
    return user.get_full_name() or user.username


def assessments_lock(pks) -> None:
    """Lock the assessments' rows until the transaction ends (PostgreSQL: ``FOR UPDATE``; SQLite
    serialises writers itself: every transaction begins ``IMMEDIATE``). Rows are locked in primary
    key order, so two batches never wait for each other in a circle.

    Must run inside ``transaction.atomic``; whatever the caller reads afterwards is what was
    committed before the lock was granted.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("assessments_lock needs a transaction (transaction.atomic).")
    list(Assessment.objects.select_for_update().filter(pk__in=list(pks)).order_by("pk").values_list("pk", flat=True))


def assessment_locked(pk: int) -> Assessment:
    """One assessment, locked, as committed (with its patient)."""
    assessments_lock([pk])
    return Assessment.objects.select_related("patient", "current_evaluation").get(pk=pk)


@dataclass
class Replacement:
    """A new (unsaved) evaluation that replaces an assessment's current one."""

    assessment_id: int
    previous_id: int | None
    evaluation: Evaluation
    #: Why a standing signature on the replaced checklist is voided (every replacement voids it:
    #: a signature never moves to a checklist it did not sign).
    void_reason: str
    #: Why open review requests of the assessment are closed (superseded) by this replacement.
    request_note: str


def evaluations_install(replacements: list[Replacement], *, by) -> list[Evaluation]:
    """Save the new evaluations and make each its assessment's current one; void standing
    signatures, supersede open review requests, carry decisions on unchanged findings over.

    The caller holds the assessments' row locks (:func:`assessments_lock`) in this transaction.
    """
    if not replacements:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("evaluations_install needs the assessments locked in a transaction.")
    Evaluation.objects.bulk_create([replacement.evaluation for replacement in replacements])
    # One prepared statement run for every row: bulk_update's CASE WHEN and a correlated subquery
    # both cost far more here (0.2-0.7 ms a row on SQLite).
    table = connection.ops.quote_name(Assessment._meta.db_table)
    column = connection.ops.quote_name(Assessment._meta.get_field("current_evaluation").column)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608 (names from the model, values bound)
            [(replacement.evaluation.pk, replacement.assessment_id) for replacement in replacements],
        )
    now, name = timezone.now(), signer_name(by)
    by_void_reason, by_request_note = defaultdict(list), defaultdict(list)
    for replacement in replacements:
        by_void_reason[replacement.void_reason].append(replacement.assessment_id)
        by_request_note[replacement.request_note].append(replacement.assessment_id)
    for reason, assessment_ids in by_void_reason.items():
        SignOff.objects.standing().filter(assessment_id__in=assessment_ids).update(
            voided_at=now, voided_by=by, void_reason=reason)
    for note, assessment_ids in by_request_note.items():
        ReviewRequest.objects.open().filter(assessment_id__in=assessment_ids).update(
            resolution=ReviewRequest.Resolution.SUPERSEDED, resolved_by=by, resolved_by_name=name, resolved_at=now,
            justification=note)
    replaced = {replacement.previous_id: replacement.evaluation for replacement in replacements
                if replacement.previous_id is not None}
    previous_decisions = defaultdict(list)
    for disposition in Disposition.objects.filter(evaluation_id__in=replaced):
        previous_decisions[disposition.evaluation_id].append(disposition)
    Disposition.objects.bulk_create([
        carried
        for previous_id, dispositions in previous_decisions.items()
        for carried in carried_dispositions(dispositions, replaced[previous_id])
    ])
    return [replacement.evaluation for replacement in replacements]


def carried_dispositions(dispositions, current: Evaluation) -> list[Disposition]:
    """Copies (unsaved) for ``current`` of the decisions whose item kept its status and inputs;
    where the finding changed, the physician decides again."""
    items = {item["code"]: item for item in current.checklist["items"]}
    carried = []
    for disposition in dispositions:
        item = items.get(disposition.code)
        if item is None or item["status"] != disposition.status or item["inputs"] != disposition.item_inputs:
            continue
        carried.append(Disposition(
            evaluation=current, code=disposition.code, status=disposition.status, item_inputs=disposition.item_inputs,
            kind=disposition.kind, reason_code=disposition.reason_code, justification=disposition.justification,
            decided_by_id=disposition.decided_by_id, decided_by_name=disposition.decided_by_name,
            decided_at=disposition.decided_at, carried_over_from=disposition.carried_over_from or disposition,
        ))
    return carried


def install_one(*, assessment: Assessment, evaluation: Evaluation, void_reason: str, request_note: str,
                by) -> Evaluation:
    """:func:`evaluations_install` for one assessment (locked by the caller)."""
    evaluations_install([Replacement(assessment_id=assessment.pk, previous_id=assessment.current_evaluation_id,
                                     evaluation=evaluation, void_reason=void_reason, request_note=request_note)],
                        by=by)
    assessment.current_evaluation = evaluation
    return evaluation


__all__ = ["Replacement", "assessment_locked", "assessments_lock", "carried_dispositions", "evaluations_install",
           "install_one", "signer_name"]
