"""The models of the ``eligibility`` app, defined in its capability packages (one app, so the tables
and migrations stay as they were; see README, project layout)."""

from .patients.models import Assessment, Evaluation, Patient, PatientQuerySet, WorklistCount
from .review.handoffs.models import Note, Question, QuestionEntry, ReadyMark, ReadyMarkQuerySet
from .review.models import Disposition, ReviewRequest, ReviewRequestQuerySet, SignOff, SignOffQuerySet
from .rulesets.models import (
    DIAGNOSIS_CHOICES,
    Product,
    RuleSet,
    RuleSetEvent,
    RuleSetPreview,
    RuleSetPreviewRow,
    RuleSetReevaluation,
    RuleSetReevaluationPart,
    Threshold,
)

__all__ = ["DIAGNOSIS_CHOICES", "Assessment", "Disposition", "Evaluation", "Note", "Patient", "PatientQuerySet",
           "Product", "Question", "QuestionEntry", "ReadyMark", "ReadyMarkQuerySet", "ReviewRequest",
           "ReviewRequestQuerySet", "RuleSet", "RuleSetEvent", "RuleSetPreview", "RuleSetPreviewRow",
           "RuleSetReevaluation", "RuleSetReevaluationPart", "SignOff", "SignOffQuerySet",
           "Threshold", "WorklistCount"]
