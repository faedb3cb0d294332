"""Hand-offs, writes: mark a stage ready for review and withdraw the mark, write notes, ask, answer,
close and follow up questions.

Designed for concurrency: a ready mark is made under the assessment's row lock (as a save and a
signature are) and the database keeps one open mark per assessment; a question's step is a
conditional update from the state the step starts from (answer only an open question, close only
an open or answered one, follow up only an answered one), so two people acting at the same moment
leave one outcome and the other is told what happened. Views only bind input and call these.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from ...common.people import display_name
from ...common.text import free_text_too_long
from ...patients import lifecycle
from ...patients.episodes_services import closed_refusal
from ...patients.models import Assessment, Evaluation, Patient
from ...rules import checklist_items
from .models import Note, Question, QuestionEntry, ReadyMark


class HandoffRefused(Exception):
    """A hand-off that cannot be recorded; the message says why, for the user. ``field`` names the
    form field the message belongs beside, where there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _text(text: str, *, what: str) -> str:
    text = text.strip()
    if not text:
        raise HandoffRefused(f"Write the {what}.", field="text")
    if too_long := free_text_too_long(text):
        raise HandoffRefused(too_long, field="text")
    return text


def _item_title(evaluation: Evaluation, code: str) -> str:
    item = next((item for item in checklist_items(evaluation.checklist) if item.code == code), None)
    if item is None:
        raise HandoffRefused("This checklist has no such item.")
    return item.title


# --- Ready for review --------------------------------------------------------------------------


@transaction.atomic
def ready_mark(*, assessment: Assessment, by) -> ReadyMark:
    """Mark the assessment's current stage ready for review: its current checklist (and the ones a
    later save of the same stage produces) goes to the physicians' queue until signed.

    Refused for a withdrawn patient, a stage marked already, and a checklist signed already.
    """
    assessment = lifecycle.assessment_locked(assessment.pk)
    if assessment.patient.is_withdrawn:
        raise HandoffRefused("This patient has been withdrawn; nothing can be marked.")
    if closed := closed_refusal(assessment):
        raise HandoffRefused(closed)
    current = assessment.ready_marks.open().first()
    if current is not None:
        raise HandoffRefused(f"Marked ready for review already, by {current.marked_by_name} on "
                             f"{timezone.localtime(current.marked_at):%Y-%m-%d %H:%M}.")
    if assessment.signoffs.standing().filter(evaluation_id=assessment.current_evaluation_id).exists():
        raise HandoffRefused("This checklist is signed already; a change of data voids the signature, then mark it "
                             "ready again.")
    try:
        with transaction.atomic():
            return ReadyMark.objects.create(
                assessment=assessment, stage=assessment.stage, evaluation_id=assessment.current_evaluation_id,
                marked_by=by, marked_by_name=display_name(by), marked_at=timezone.now())
    except IntegrityError:  # the database's guard: one open mark per assessment
        raise HandoffRefused("Marked ready for review by someone else at the same moment.") from None


def ready_mark_taken_back(*, assessment: Assessment, by) -> None:
    """A physician voided a signature themselves (a work-up reopened, a checklist re-evaluated under a
    new version): the checklist needs their signature again and stays in the queue, marked by them.
    Called in that transaction, under the assessment's row lock."""
    if not assessment.ready_marks.open().exists():
        ReadyMark.objects.create(assessment=assessment, stage=assessment.stage,
                                 evaluation_id=assessment.current_evaluation_id, marked_by=by,
                                 marked_by_name=display_name(by), marked_at=timezone.now())


def _clear(marks, clearance: str, by) -> int:
    """Clear the open marks of ``marks`` (a conditional update: a mark cleared already stays as it was)."""
    return marks.open().update(clearance=clearance, cleared_by=by, cleared_by_name=display_name(by),
                               cleared_at=timezone.now())


@transaction.atomic
def ready_mark_withdraw(*, assessment: Assessment, by) -> None:
    """The coordinator takes the stage back from the physicians' queue (more data to come)."""
    if not _clear(ReadyMark.objects.filter(assessment_id=assessment.pk), ReadyMark.Clearance.WITHDRAWN, by):
        raise HandoffRefused("This stage is not marked ready for review (a physician may have signed it meanwhile).")


def ready_marks_clear_signed(*, assessment_id: int, by) -> None:
    """A physician signed the checklist: the mark is done (called in the signature's transaction)."""
    _clear(ReadyMark.objects.filter(assessment_id=assessment_id), ReadyMark.Clearance.SIGNED, by)


def ready_marks_clear_episode_closed(*, assessment_id: int, by) -> None:
    """The episode was closed (or replaced by a new one): its mark ends (called in that transaction)."""
    _clear(ReadyMark.objects.filter(assessment_id=assessment_id), ReadyMark.Clearance.EPISODE_CLOSED, by)


def ready_marks_clear_stage_changed(*, stages: dict[int, str], by) -> None:
    """Saves moved assessments to another stage (``{assessment id: its new stage}``): marks of another
    stage are cleared (the new stage is marked when its data are complete)."""
    for mark in ReadyMark.objects.open().filter(assessment_id__among=list(stages)).only("pk", "assessment_id", "stage"):
        if mark.stage != stages[mark.assessment_id]:
            _clear(ReadyMark.objects.filter(pk=mark.pk), ReadyMark.Clearance.STAGE_CHANGED, by)


# --- Notes -------------------------------------------------------------------------------------


def note_add(*, patient: Patient, text: str, by, evaluation: Evaluation | None = None, code: str = "") -> Note:
    """A note on the patient, or (``evaluation`` and ``code``) on one item of a checklist. Append-only."""
    text = _text(text, what="note")
    if patient.is_withdrawn:
        raise HandoffRefused("This patient has been withdrawn; nothing can be added.")
    title = ""
    if code:
        if evaluation is None or evaluation.assessment_id != patient.assessment.pk:
            raise HandoffRefused("This checklist is not the patient's.")
        title = _item_title(evaluation, code)
    return Note.objects.create(patient=patient, code=code, item_title=title, evaluation=evaluation if code else None,
                               text=text, author=by, author_name=display_name(by), created_at=timezone.now())


# --- Questions ---------------------------------------------------------------------------------


def _step(question: Question, kind: str, text: str, by, now) -> QuestionEntry:
    return QuestionEntry.objects.create(question=question, kind=kind, text=text, by=by, by_name=display_name(by),
                                        at=now)


@transaction.atomic
def question_ask(*, evaluation: Evaluation, code: str, text: str, by) -> Question:
    """A physician asks the coordinator about one item of the patient's current checklist."""
    text = _text(text, what="question")
    evaluation = Evaluation.objects.select_related("assessment__patient").get(pk=evaluation.pk)
    assessment = evaluation.assessment
    lifecycle.assessments_lock([assessment.pk])  # a close of the episode commits before or after, not between
    assessment.refresh_from_db(fields=["closed_at", "close_reason"])
    if assessment.patient.is_withdrawn:
        raise HandoffRefused("This patient has been withdrawn; nothing can be asked.")
    if closed := closed_refusal(assessment):
        raise HandoffRefused(closed)
    if assessment.current_evaluation_id != evaluation.pk:
        raise HandoffRefused("This checklist has been re-evaluated since: ask on the current one.")
    title = _item_title(evaluation, code)
    now = timezone.now()
    question = Question.objects.create(assessment=assessment, code=code, item_title=title, evaluation=evaluation,
                                       asked_by=by, asked_by_name=display_name(by), asked_at=now, updated_at=now)
    _step(question, QuestionEntry.Kind.ASKED, text, by, now)
    return question


def _move(question: Question, *, from_states: tuple[str, ...], to: str, kind: str, text: str, by,
          refusal: str) -> Question:
    """One step: the state changes only if it is still one of ``from_states`` when the update runs
    (the row is locked by the update until the transaction ends); otherwise refused with what
    happened meanwhile."""
    if Patient.objects.filter(episodes__questions=question.pk, withdrawn_at__isnull=False).exists():
        raise HandoffRefused("This patient has been withdrawn; nothing can be recorded.")
    lifecycle.assessments_lock([question.assessment_id])  # a close of the episode commits before or after
    if closed := closed_refusal(Assessment.objects.get(pk=question.assessment_id)):
        raise HandoffRefused(closed)
    now = timezone.now()
    moved = Question.objects.filter(pk=question.pk, state__in=from_states).update(state=to, updated_at=now)
    if not moved:
        current = Question.objects.get(pk=question.pk)
        last = current.entries.order_by("-at", "-id").first()
        raise HandoffRefused(f"{refusal} It is {current.get_state_display().lower()} now"
                             + (f" ({last.get_kind_display().lower()} by {last.by_name} at "
                                f"{timezone.localtime(last.at):%H:%M})." if last else "."))
    _step(question, kind, text, by, now)
    question.refresh_from_db()
    return question


@transaction.atomic
def question_answer(*, question: Question, text: str, by) -> Question:
    """The coordinator answers an open question (refused once it is answered or closed)."""
    text = _text(text, what="answer")
    return _move(question, from_states=(Question.State.OPEN,), to=Question.State.ANSWERED,
                 kind=QuestionEntry.Kind.ANSWERED, text=text, by=by, refusal="Not recorded: this question is not open.")


@transaction.atomic
def question_close(*, question: Question, by) -> Question:
    """The physician closes a question, answered or still open (refused once it is closed)."""
    return _move(question, from_states=(Question.State.OPEN, Question.State.ANSWERED), to=Question.State.CLOSED,
                 kind=QuestionEntry.Kind.CLOSED, text="", by=by, refusal="Not closed: this question is closed already.")


@transaction.atomic
def question_follow_up(*, question: Question, text: str, by) -> Question:
    """The physician re-opens an answered question with a follow-up (back on the coordinators' worklist)."""
    text = _text(text, what="follow-up question")
    return _move(question, from_states=(Question.State.ANSWERED,), to=Question.State.OPEN,
                 kind=QuestionEntry.Kind.FOLLOW_UP, text=text, by=by,
                 refusal="Not sent: only an answered question takes a follow-up.")
