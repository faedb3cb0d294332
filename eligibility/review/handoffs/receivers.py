"""How hand-offs follow the checklist's lifecycle (connected when the app is ready, see ``apps.py``):
a save that moves an assessment to another stage clears the ready mark of the stage it left, in
the save's transaction under the assessment's row lock. A save of the same stage keeps the mark
(the queue shows the new checklist). The patient's history shows the hand-offs."""

from __future__ import annotations

from django.dispatch import receiver

from ...patients.models import Evaluation
from ...patients.signals import evaluations_replaced, history_source, page_part
from ..models import SignOff
from .models import Note, QuestionEntry, ReadyMark
from .selectors import handoff_history
from .services import ready_marks_clear_stage_changed

history_source(handoff_history)

# The patient page's parts this package reads (``handoff_history``, ``patient_handoffs``): the same
# conditions as the reads, the signature's looser (any on the current checklist, not only standing).
page_part("ready marks")(lambda episode, patient, checklist: ReadyMark.objects.filter(assessment_id=episode))
page_part("notes")(lambda episode, patient, checklist: Note.objects.filter(patient_id=patient))
page_part("question steps")(lambda episode, patient, checklist: QuestionEntry.objects.filter(
    question__assessment_id=episode))
page_part("signatures")(lambda episode, patient, checklist: SignOff.objects.filter(evaluation_id=checklist))


@receiver(evaluations_replaced, sender=Evaluation, dispatch_uid="review.handoffs.stage_changed")
def stage_changed(sender, replacements, by, **kwargs):
    ready_marks_clear_stage_changed(
        stages={replacement.assessment_id: replacement.evaluation.stage for replacement in replacements}, by=by)
