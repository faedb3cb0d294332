"""What the pages show of hand-offs: the checklist's questions and notes beside each item with the
forms the user's role may use, and the summary near the top."""

from __future__ import annotations

from crispy_forms.utils import render_crispy_form
from django.utils.html import escape
from django.utils.safestring import mark_safe

from .forms import NoteForm, QuestionForm
from .models import Question
from .selectors import checklist_handoffs, open_ready_mark


def checklist_handoff_context(user, *, patient, evaluation, view, current: bool) -> dict:
    """Adds to each item row of ``view`` its questions and notes (and, on the current checklist of a
    patient not withdrawn, the note and question forms the user may use); returns the page's summary:
    how many questions are open or answered, the ready mark and whether the user may mark it."""
    by_code = checklist_handoffs(evaluation, current=current)
    writable = current and not patient.is_withdrawn
    may_note, may_ask = user.has_perm("eligibility.add_note"), user.has_perm("eligibility.ask_question")
    if writable:
        note_form, question_form = _item_form(NoteForm, "note"), _item_form(QuestionForm, "ask")
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
    mark = open_ready_mark(patient.assessment) if current else None
    return {"handoff": {
        "open_questions": open_count, "answered_questions": answered_count, "ready_mark": mark,
        "may_mark": writable and user.has_perm("eligibility.mark_ready"),
    }}


#: Stands for an item's code in a form rendered once for every item of the page.
_CODE = "__item_code__"


def _item_form(form_class, prefix: str):
    """The HTML of an empty ``form_class`` for any one item (fields prefixed ``<prefix>-<code>``):
    rendered once and given each item's code, as the forms differ in nothing else. Rendering the
    note and question forms of all 26 items one by one was most of the checklist page's time."""
    html = render_crispy_form(form_class(prefix=f"{prefix}-{_CODE}", initial={"return_to": "checklist"}))
    # Safe: rendered (and escaped) by the form's templates; the code is escaped as it goes in.
    return lambda code: mark_safe(html.replace(_CODE, escape(code)))  # noqa: S308
