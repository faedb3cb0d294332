"""Hand-offs, reads: the physicians' queue condition, the hand-off state on the worklist, open
questions, a checklist's questions and notes, a patient's notes and hand-off history."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef, Prefetch, Subquery

from ...common import compiled
from ...patients.models import Assessment
from ...patients.selectors import page_part_may_have
from ..found import may_have
from .models import Note, Question, QuestionEntry, ReadyMark


def with_handoff_state(patients):
    """Worklist patients annotated with their open ready mark (who, when) and their questions
    awaiting the coordinator (one query still: subqueries)."""
    mark = ReadyMark.objects.open().filter(assessment=OuterRef("assessment"))
    waiting = (Question.objects.filter(assessment=OuterRef("assessment"), state=Question.State.OPEN)
               .values("assessment").annotate(count=Count("pk")).values("count"))
    return patients.annotate(ready_marked_at=Subquery(mark.values("marked_at")[:1]),
                             ready_marked_by=Subquery(mark.values("marked_by_name")[:1]),
                             open_questions=Subquery(waiting[:1]))


def open_questions_query(limit: int = 50):
    """Questions not closed, of patients not withdrawn: open ones (awaiting the coordinator's answer)
    first, then answered ones (awaiting the physician), oldest step first; with their entries."""
    # The episode's conditions as EXISTS, its rows and patients prefetched (two look-ups by key, for
    # the questions shown only): with them joined, SQLite's planner, knowing the episodes' table
    # large and the questions' empty, read every episode to find none (7 ms at 10,000, growing
    # with the programme); this way both databases read the not-closed questions' partial index in
    # the page's order and stop at ``limit``.
    current = Assessment.objects.filter(pk=OuterRef("assessment_id"), patient__withdrawn_at__isnull=True,
                                        closed_at__isnull=True)
    entries = Prefetch("entries", queryset=QuestionEntry.objects.order_by("at", "id"))
    return (Question.objects.exclude(state=Question.State.CLOSED).filter(Exists(current))
            .prefetch_related("assessment__patient", entries)
            .order_by("-state", "updated_at")[:limit])  # "open" sorts after "answered": descending puts it first


def open_questions(limit: int = 50) -> list:
    """:func:`open_questions_query`'s questions: the same query for every worklist, built once per
    connection (compiled); the prefetches run only for the questions found."""
    return compiled.objects(("open questions", limit), lambda: open_questions_query(limit))


def checklist_handoffs(evaluation, *, current: bool) -> dict:
    """The questions and item notes a checklist page shows, by item code.

    The current checklist shows every question and item note of the patient (a question stays
    open across re-evaluations until a physician closes it); a past checklist only those written on it.
    """
    # With the episode and patient each question's steps read (whether the patient is withdrawn).
    # Both queries built once per connection (compiled): every checklist page asks them.
    def questions(episode, evaluation_id=None):
        found = Question.objects.filter(assessment_id=episode).select_related("assessment__patient").prefetch_related(
            Prefetch("entries", queryset=QuestionEntry.objects.order_by("at", "id")))
        found = found if evaluation_id is None else found.filter(evaluation_id=evaluation_id)
        return found.order_by("asked_at", "id")

    def notes(episode, evaluation_id=None):
        found = Note.objects.filter(patient__episodes=episode).exclude(code="")
        found = found if evaluation_id is None else found.filter(evaluation_id=evaluation_id)
        return found.order_by("created_at", "id")

    values = (evaluation.assessment_id,) if current else (evaluation.assessment_id, evaluation.pk)
    by_code: dict[str, dict[str, list]] = defaultdict(lambda: {"questions": [], "notes": []})
    # Each skipped if the page's first query found none (``review.found``).
    if may_have(evaluation, "questions"):
        for question in compiled.objects_for(("checklist questions", current), questions, *values):
            by_code[question.code]["questions"].append(question)
    if may_have(evaluation, "item_notes"):
        for note in compiled.objects_for(("checklist notes", current), notes, *values):
            by_code[note.code]["notes"].append(note)
    return by_code


def patient_notes(patient) -> list:
    """The patient's notes not on an item, oldest first (compiled: the patient page asks them)."""
    return compiled.objects_for("patient notes", lambda key: Note.objects.filter(patient_id=key, code="").order_by(
        "created_at", "id"), patient.pk)


def open_ready_mark(assessment):
    """The episode's open ready mark, or None (its query built once per connection: compiled)."""
    return compiled.first_for("open ready mark", lambda episode: ReadyMark.objects.filter(assessment_id=episode).open(),
                              assessment.pk)


def handoff_history(assessment) -> list[dict]:
    """The hand-offs of an assessment as rows of the patient's history: marks made and cleared,
    notes written, every step of every question (who, when, what)."""
    rows = []
    # Compiled: the patient page asks them for its history.
    # Each skipped if the patient page's first query found none (``patients.selectors.page_part_may_have``).
    marks = compiled.objects_for("history ready marks", lambda key: ReadyMark.objects.filter(assessment_id=key),
                                 assessment.pk) if page_part_may_have(assessment, "ready marks") else []
    notes = compiled.objects_for("history notes", lambda key: Note.objects.filter(patient_id=key),
                                 assessment.patient_id) if page_part_may_have(assessment, "notes") else []
    # The page's hand-off shows the open mark and the notes on the patient: among these rows, read
    # for the same page (patient_handoffs), not read again.
    assessment.handoffs_read = (marks, notes)
    for mark in marks:
        rows.append({"when": mark.marked_at, "who": mark.marked_by_name, "field": "Ready for review",
                     "old": "", "new": f"{mark.get_stage_display()} marked ready for review"})
        if mark.cleared_at:
            rows.append({"when": mark.cleared_at, "who": mark.cleared_by_name, "field": "Ready for review",
                         "old": f"{mark.get_stage_display()} marked ready for review",
                         "new": f"cleared: {mark.get_clearance_display().lower()}"})
    for note in notes:
        rows.append({"when": note.created_at, "who": note.author_name,
                     "field": f"Note on {note.item_title}" if note.code else "Note", "old": "", "new": note.text})
    steps = compiled.objects_for("history question steps", lambda key: QuestionEntry.objects.filter(
        question__assessment=key).select_related("question"), assessment.pk) if page_part_may_have(
        assessment, "question steps") else []
    for entry in steps:
        rows.append({"when": entry.at, "who": entry.by_name,
                     "field": f"Question on {entry.question.item_title}: {entry.get_kind_display().lower()}",
                     "old": "", "new": entry.text})
    return rows
