"""What the pages show of hand-offs: the checklist's questions and notes beside each item with the
forms the user's role may use, and the summary near the top."""

from __future__ import annotations

from ...common import compiled
from ...common.rendering import empty_form_html, per_item
from ...patients.selectors import page_part_may_have
from ..models import SignOff
from .forms import NoteForm, QuestionForm
from .models import Question
from .selectors import checklist_handoffs, open_ready_mark, patient_notes

#: ``checklist_handoff_context``'s ``open_mark`` when the caller did not read it: looked up.
LOOK_UP = object()


def checklist_handoff_context(user, *, patient, evaluation, view, current: bool, open_mark=LOOK_UP) -> dict:
    """Adds to each item row of ``view`` its questions and notes (and, on the current checklist of a
    patient not withdrawn in an open episode, the note and question forms the user may use); returns the page's summary:
    how many questions are open or answered, the ready mark and whether the user may mark it
    (``open_mark``: the episode's open ready mark or None, if the caller read it)."""
    by_code = checklist_handoffs(evaluation, current=current)
    writable = current and not patient.is_withdrawn and not evaluation.assessment.is_closed
    may_note, may_ask = user.has_perm("eligibility.add_note"), user.has_perm("eligibility.ask_question")
    if writable:
        # The same empty forms beside every item: rendered once each (their prefix holds the code).
        note_form = per_item(lambda code: NoteForm(prefix=f"note-{code}", initial={"return_to": "checklist"}),
                             key="checklist note")
        question_form = per_item(lambda code: QuestionForm(prefix=f"ask-{code}", initial={"return_to": "checklist"}),
                                 key="checklist question")
    open_count = answered_count = 0
    for row in view["all_items"]:
        code = row["item"].code
        found = by_code.get(code, {"questions": [], "notes": []})
        row["questions"], row["notes"] = found["questions"], found["notes"]
        open_count += sum(question.state == Question.State.OPEN for question in found["questions"])
        answered_count += sum(question.state == Question.State.ANSWERED for question in found["questions"])
        if writable:
            row["note_form"] = note_form(code) if may_note else None
            row["question_form"] = question_form(code) if may_ask else None
    mark = (open_ready_mark(patient.assessment) if open_mark is LOOK_UP else open_mark) if current else None
    return {"handoff": {
        "open_questions": open_count, "answered_questions": answered_count, "ready_mark": mark,
        "may_mark": writable and user.has_perm("eligibility.mark_ready"),
    }}



def _standing_signature(evaluation_id: int | None):
    """The standing signature on the episode's current checklist, or None (compiled: every patient
    page asks it)."""
    if evaluation_id is None:
        return None
    return compiled.first_for("standing signature", lambda key: SignOff.objects.standing().filter(evaluation_id=key),
                              evaluation_id)


def patient_handoffs(patient, user) -> dict:
    """The patient page's hand-off (review/_patient_handoffs.jinja): the ready mark with its
    buttons, the standing signature, the notes on the patient and the form to add one (its empty
    HTML, rendered once per process). The open mark and the notes are taken from what the page's
    history read (``handoff_history``), if it did."""
    assessment = patient.assessment
    writable = not patient.is_withdrawn
    read = getattr(assessment, "handoffs_read", None)  # the page's history read every mark and note
    if read is not None:
        marks, notes = read
        # At most one open mark an episode (a constraint); the notes in their order, oldest first.
        mark = next((mark for mark in marks if mark.cleared_at is None), None)
        notes = [note for note in notes if not note.code]
    else:
        mark, notes = open_ready_mark(assessment), patient_notes(patient)
    return {
        "assessment": assessment,
        "ready_mark": mark,
        "signed": (_standing_signature(assessment.current_evaluation_id)
                   if page_part_may_have(assessment, "signatures") else None),
        "may_mark": writable and not assessment.is_closed and user.has_perm("eligibility.mark_ready"),
        "notes": notes,
        "note_form": (empty_form_html(lambda: NoteForm(prefix="note"), key="patient note")
                      if writable and user.has_perm("eligibility.add_note") else None),
    }
