"""How review follows what happens below it (connected when the app is ready, see ``apps.py``).

- A checklist replaced (a save, a publish, a physician's re-evaluation): the standing signature on
  it is voided with the reason, open review requests are closed as superseded, and decisions on
  findings that did not change are carried over to the new checklist. In the same transaction,
  under the assessment's row lock.
- A coordinator's save of a work-up closed as not eligible by a physician's signature is refused.
- A rule-set version published (or its re-evaluation resumed): the re-evaluation of the open
  checklists (signed ones get a review request) is enqueued as a task (:mod:`.tasks`).
- A treatment episode closed: its open review requests are superseded, its ready mark cleared.
- A withdrawn patient restored: evaluated under the active version if versions came meanwhile.
- The impact preview lists the open checklists (the cases and whether they are signed).
- After ``migrate`` or ``flush`` (SQLite): the worklist's kept counts counted again from its rows.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Exists
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.utils import timezone

from ..common.people import display_name
from ..patients.models import Assessment, Evaluation, Patient
from ..patients.signals import episode_closed, evaluations_replaced, patient_restored, save_notice, write_guard
from ..rules import checklist_items
from ..rulesets.models import RuleSet
from ..rulesets.preview import OpenCase, OpenCasesSource, open_cases_provider
from ..rulesets.signals import ruleset_published
from .handoffs.services import ready_marks_clear_episode_closed
from .models import Disposition, ReviewRequest, SignOff
from .reevaluation import (
    open_assessments,
    reevaluate_assessment,
    standing_on_current_checklist,
)
from .selectors import worklist_counts_rebuild
from .services import closing_signoff
from .tasks import reevaluate_after_publish as reevaluate_after_publish_task


@receiver(evaluations_replaced, sender=Evaluation, dispatch_uid="review.checklists_replaced")
def checklists_replaced(sender, replacements, by, **kwargs):
    """Void, close and carry over for each replaced checklist (grouped: one statement per reason)."""
    now = timezone.now()
    by_void_reason, by_request_note = defaultdict(list), defaultdict(list)
    for replacement in replacements:
        by_void_reason[replacement.void_reason].append(replacement.assessment_id)
        by_request_note[replacement.request_note].append(replacement.assessment_id)
    for reason, assessment_ids in by_void_reason.items():
        SignOff.objects.standing().filter(assessment_id__among=assessment_ids).update(
            voided_at=now, voided_by=by, void_reason=reason)
    for note, assessment_ids in by_request_note.items():
        review_requests_supersede(assessment_ids, note=note, by=by, now=now)
    replaced = {replacement.previous_id: replacement.evaluation for replacement in replacements
                if replacement.previous_id is not None}
    previous_decisions = defaultdict(list)
    for disposition in Disposition.objects.filter(evaluation_id__among=list(replaced)):
        previous_decisions[disposition.evaluation_id].append(disposition)
    Disposition.objects.bulk_create([
        carried
        for previous_id, dispositions in previous_decisions.items()
        for carried in carried_dispositions(dispositions, replaced[previous_id])
    ])


def review_requests_supersede(assessment_ids, *, note: str, by, now=None) -> int:
    """Resolve the open review requests of these assessments as superseded, saying why (a new
    checklist replaced the one they asked about, or the episode was closed)."""
    return ReviewRequest.objects.open().filter(assessment_id__among=list(assessment_ids)).update(
        resolution=ReviewRequest.Resolution.SUPERSEDED, resolved_by=by, resolved_by_name=display_name(by),
        resolved_at=now or timezone.now(), justification=note)


@receiver(episode_closed, sender=Assessment, dispatch_uid="review.episode_closed")
def episode_ended(sender, assessment, by, note, **kwargs):
    """A closed episode waits on nobody: its open review requests are superseded and its open ready
    mark cleared (its signatures and decisions stay: they belong to it)."""
    review_requests_supersede([assessment.pk], note=note, by=by)
    ready_marks_clear_episode_closed(assessment_id=assessment.pk, by=by)


def carried_dispositions(dispositions, current: Evaluation) -> list[Disposition]:
    """Copies (unsaved) for ``current`` of the decisions whose item kept its status and inputs;
    where the finding changed, the physician decides again."""
    items = {item.code: item for item in checklist_items(current.checklist)}
    carried = []
    for disposition in dispositions:
        item = items.get(disposition.code)
        if item is None or item.status != disposition.status or item.inputs != disposition.item_inputs:
            continue
        carried.append(Disposition(
            evaluation=current, code=disposition.code, status=disposition.status, item_inputs=disposition.item_inputs,
            kind=disposition.kind, reason_code=disposition.reason_code, justification=disposition.justification,
            decided_by_id=disposition.decided_by_id, decided_by_name=disposition.decided_by_name,
            decided_at=disposition.decided_at, carried_over_from=disposition.carried_over_from or disposition,
        ))
    return carried


@write_guard
def closed_work_up(assessment) -> str | None:
    """A work-up closed as not eligible takes no data until a physician reopens it."""
    closing = closing_signoff(assessment)
    if closing is None:
        return None
    return (f"The work-up was closed as not eligible by {closing.signer_name} on "
            f"{timezone.localtime(closing.signed_at):%Y-%m-%d %H:%M}; a physician can reopen it.")


@save_notice
def signature_voided(previous_evaluation_id, evaluation) -> str | None:
    """After a save: the signature ``evaluation`` voided when it replaced the previous checklist, said
    to the coordinator who saved (one voided earlier, e.g. by a reopening, is not this save's)."""
    voided = (SignOff.objects.filter(evaluation_id=previous_evaluation_id, voided_at__gte=evaluation.created_at)
              .order_by("-voided_at").first())
    if voided is None:
        return None
    return (f"The signature by {voided.signer_name} ({voided.get_decision_display().lower()}) is void: the checklist "
            "needs signing again; mark the stage ready for review when the data are complete.")


@receiver(ruleset_published, sender=RuleSet, dispatch_uid="review.reevaluate_after_publish")
def reevaluate_after_publish(sender, ruleset, by, reevaluation, **kwargs):
    """Open checklists under the new version, as a task (sent once the publish committed)."""
    reevaluate_after_publish_task.enqueue(reevaluation_id=reevaluation.pk)


@receiver(patient_restored, sender=Patient, dispatch_uid="review.reevaluate_restored")
def reevaluate_restored(sender, patient, by, **kwargs):
    reevaluate_assessment(assessment_id=patient.assessment.pk, by=by)


def _open_cases_count() -> int:
    return open_assessments().count()


def _open_cases_batch(*, after: int, limit: int) -> list[OpenCase]:
    """The next ``limit`` open assessments after assessment ``after`` (by primary key), each
    with its case and whether its current checklist is signed."""
    rows = (open_assessments().filter(pk__gt=after).order_by("pk")
            .annotate(signed=Exists(standing_on_current_checklist()))
            .values_list("pk", "patient_id", "patient__public_id", "patient__study_id", "patient__initials", "stage",
                         "data", "signed")[:limit])
    return [OpenCase(*row) for row in rows]


open_cases_provider(OpenCasesSource(count=_open_cases_count, batch=_open_cases_batch))


@receiver(post_migrate, dispatch_uid="review.worklist_counts_rebuild")
def worklist_counts_after_migrate(sender, using="default", **kwargs) -> None:
    if sender.name == "eligibility":
        worklist_counts_rebuild(using)
