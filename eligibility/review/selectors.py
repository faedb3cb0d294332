"""Review, reads: the worklist (patients with their checklist and its review state) and the
physician's queue."""

from __future__ import annotations

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery

from ..patients.models import Evaluation, Patient
from .handoffs.models import ReadyMark
from .models import ReviewRequest, SignOff


def worklist_patients(*, result: str = "", stage: str = "", search: str = ""):
    """Patients for the worklist with their assessment and current evaluation, newest change first.

    One query for the page whatever the number of patients (joins, no per-row lookups).
    """
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    standing = SignOff.objects.standing().filter(assessment=OuterRef("assessment"))
    patients = (Patient.objects.active()
                .select_related("assessment", "assessment__current_evaluation", "assessment__updated_by")
                .annotate(review_requested=Exists(requested),
                          signoff_decision=Subquery(standing.values("decision")[:1]))
                .order_by("-assessment__updated_at"))
    if result:
        patients = patients.filter(assessment__current_evaluation__overall=result)
    if stage:
        patients = patients.filter(assessment__stage=stage)
    if search:
        patients = patients.filter(study_id__icontains=search.strip())
    return patients


def physician_queue():
    """Current checklists a coordinator marked ready for review and no physician has signed, and
    signed ones a new rule-set version asks a physician to review again; oldest first, with how many
    items still need a physician's disposition and who marked the stage ready, when (one query).

    A patient whose stage nobody marked ready is not in the queue, whatever its checklist says.
    """
    signed = SignOff.objects.standing().filter(evaluation=OuterRef("pk"))
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    mark = ReadyMark.objects.open().filter(assessment=OuterRef("assessment"))
    return (
        Evaluation.objects.filter(assessment__current_evaluation=F("pk"),
                                  assessment__patient__withdrawn_at__isnull=True)
        .annotate(signed=Exists(signed), review_requested=Exists(requested), ready=Exists(mark),
                  ready_marked_by=Subquery(mark.values("marked_by_name")[:1]),
                  ready_marked_at=Subquery(mark.values("marked_at")[:1]),
                  decided=Count("dispositions", filter=(
                      Q(dispositions__status="flag", dispositions__kind="acknowledged")
                      | Q(dispositions__status__in=("defer", "exclude", "missing"),
                          dispositions__kind__in=("accepted", "overridden")))))
        .filter(Q(signed=False, ready=True) | Q(review_requested=True))
        .annotate(undecided=F("flag_count") + F("missing_count") + F("defer_count") + F("exclude_count")
                  - F("decided"))
        .select_related("assessment__patient")
        .order_by("created_at")
    )
