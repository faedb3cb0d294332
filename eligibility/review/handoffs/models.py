"""Hand-off records. Every one is written once and never edited silently: a ready mark is cleared
(who, when, why) rather than deleted, a note is never changed, a question keeps every step of its
loop as an entry of its own."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from ...common.vocabulary import STAGE_LABELS
from ...patients.models import Assessment, Evaluation, Patient


class ReadyMarkQuerySet(models.QuerySet):
    def open(self):
        """Not cleared (at most one per assessment: the database enforces it)."""
        return self.filter(cleared_at__isnull=True)


class ReadyMark(models.Model):
    """A coordinator marks the assessment's current stage *ready for review*: its checklist goes to
    the physicians' queue.

    Cleared (never deleted) when a physician signs the checklist, when the coordinator withdraws the
    mark, or when a save moves the assessment to another stage. A save that keeps the stage keeps the
    mark: the queue shows the new checklist.
    """

    class Clearance(models.TextChoices):
        SIGNED = "signed", "Signed by a physician"
        WITHDRAWN = "withdrawn", "Withdrawn by the coordinator"
        STAGE_CHANGED = "stage_changed", "The stage moved on"
        EPISODE_CLOSED = "episode_closed", "The episode was closed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="ready_marks")
    stage = models.CharField(max_length=24, choices=list(STAGE_LABELS.items()))
    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="+",
                                   help_text="The checklist that was current when the stage was marked.")
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    marked_by_name = models.CharField(max_length=200)
    marked_at = models.DateTimeField()
    clearance = models.CharField(max_length=16, choices=Clearance.choices, blank=True)
    cleared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    cleared_by_name = models.CharField(max_length=200, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = ReadyMarkQuerySet.as_manager()

    class Meta:
        ordering = ["-marked_at", "-id"]
        verbose_name = "ready-for-review mark"
        permissions = [("mark_ready", "Can mark a stage ready for review")]
        constraints = [
            models.UniqueConstraint(fields=["assessment"], condition=Q(cleared_at__isnull=True),
                                    name="one_open_ready_mark_per_assessment"),
            models.CheckConstraint(condition=Q(cleared_at__isnull=True, clearance="")
                                   | Q(cleared_at__isnull=False) & ~Q(clearance=""),
                                   name="ready_mark_cleared_with_reason"),
        ]

    def __str__(self) -> str:
        return f"Ready for review ({self.stage}) marked by {self.marked_by_name}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class Note(models.Model):
    """Free text on a patient (``code`` empty) or on one checklist item (``code``: the item's rule
    code, ``evaluation``: the checklist it was written on). Append-only: a note is never changed; a
    correction is a new note."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="notes")
    code = models.CharField(max_length=40, blank=True,
                            help_text="The checklist item's rule code; empty for the patient.")
    item_title = models.CharField(max_length=200, blank=True)
    evaluation = models.ForeignKey(Evaluation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=200)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(code="", evaluation__isnull=True) | ~Q(code="") & Q(
                evaluation__isnull=False), name="note_on_patient_or_item"),
            models.CheckConstraint(condition=~Q(text=""), name="note_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Note by {self.author_name}"


class Question(models.Model):
    """A physician's question on a checklist item, until the physician closes it.

    *open* (asked, or re-opened with a follow-up): on the coordinators' worklist; *answered*: back to
    the physician, who closes it or asks a follow-up; *closed*. Every step is a :class:`QuestionEntry`
    (who, when, what); the columns here are the question's state, changed only by conditional
    updates from the state a step starts from.
    """

    class State(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CLOSED = "closed", "Closed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="questions")
    code = models.CharField(max_length=40, help_text="The checklist item's rule code.")
    item_title = models.CharField(max_length=200)
    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="+",
                                   help_text="The checklist the question was asked on.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asked_by_name = models.CharField(max_length=200)
    asked_at = models.DateTimeField()
    #: The last step's time (the worklist orders by it).
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["asked_at", "id"]
        permissions = [("ask_question", "Can ask a question on a checklist item"),
                       ("answer_question", "Can answer a question"),
                       ("close_question", "Can close or follow up a question")]
        constraints = [models.CheckConstraint(condition=Q(state__in=["open", "answered", "closed"]),
                                              name="question_state_known")]
        # The worklist's open questions (not closed, open ones first, oldest step first), read in
        # order, 50 at a time (without it, SQLite read every episode to find the few questions).
        indexes = [models.Index(fields=["-state", "updated_at"], condition=~Q(state="closed"),
                                name="question_not_closed_idx")]

    def __str__(self) -> str:
        return f"Question on {self.code} by {self.asked_by_name}: {self.state}"


class QuestionEntry(models.Model):
    """One step of a question's loop, written once: the question, an answer, a follow-up, the close."""

    class Kind(models.TextChoices):
        ASKED = "asked", "Asked"
        ANSWERED = "answered", "Answered"
        FOLLOW_UP = "follow_up", "Follow-up question"
        CLOSED = "closed", "Closed"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by_name = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "question step"
        verbose_name_plural = "question steps"
        constraints = [models.UniqueConstraint(fields=["question"], condition=Q(kind="asked"),
                                               name="one_asking_per_question")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.by_name}"

    @property
    def public_id(self):
        """The question's opaque identifier (a step is found by its question's, e.g. in the audit export)."""
        return self.question.public_id
