"""Review, reads: the worklist (patients with their checklist and its review state) and the
physician's queue."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Upper

from ..common.vocabulary import OVERALL_LABELS, STAGE_LABELS
from ..patients.models import UNSHOWN_EVALUATION_FIELDS, Assessment, Evaluation, Patient
from .handoffs.models import ReadyMark
from .models import Disposition, ReviewRequest, SignOff


def _rank(field: str, codes) -> Case:
    """The position of a coded value in its vocabulary's order (a stage in the work-up's order, a
    result worst first); NULL for no value (not evaluated), which the sort puts last."""
    return Case(*(When(**{field: code}, then=Value(position)) for position, code in enumerate(codes)),
                output_field=IntegerField())


_EVALUATION = "assessment__current_evaluation__"

#: The worklist's sort keys (a whitelist: the query string names a key, never a column) and what
#: each orders by: stored columns (the counts are columns of the evaluation, the study identifier
#: compared in capitals as it is unique), or a stage's or result's rank in its vocabulary.
WORKLIST_SORTS = {
    "study_id": Upper("study_id"),
    "initials": F("initials"),
    "stage": _rank("assessment__stage", STAGE_LABELS),
    "result": _rank(f"{_EVALUATION}overall", OVERALL_LABELS),
    "flag": F(f"{_EVALUATION}flag_count"),
    "defer": F(f"{_EVALUATION}defer_count"),
    "exclude": F(f"{_EVALUATION}exclude_count"),
    "missing": F(f"{_EVALUATION}missing_count"),
    "updated": F("assessment__updated_at"),
}
#: The sort keys every patient has a value for (no "not evaluated" to put last).
NEVER_NULL_SORTS = frozenset({"study_id", "initials", "updated"})
DEFAULT_SORT = "updated"
DEFAULT_DIRECTION = "desc"


def search_filter(search: str) -> Q:
    """A patient whose study identifier contains the term (any letter case), or whose initials are
    the term (any case, dots and spaces ignored: "j.d." finds JD). Initials are matched whole: one
    or two letters would otherwise match a large part of the programme."""
    term = search.strip()
    condition = Q(study_id__icontains=term)
    initials = re.sub(r"[\s.]", "", term).upper()
    if re.fullmatch(r"[A-Z]{1,4}", initials):
        condition |= Q(initials=initials)  # stored in capitals: an equality the database can index
    return condition


def worklist_patients(*, result: str = "", stage: str = "", search: str = "", sort: str = DEFAULT_SORT,
                      direction: str = DEFAULT_DIRECTION):
    """Patients for the worklist with their assessment and current evaluation, filtered, searched
    and sorted by ``sort`` (a key of ``WORKLIST_SORTS``) in ``direction`` ("asc" or "desc").

    Ties are broken by the study identifier and then the primary key, so that the order is total
    and pages neither repeat nor skip a row; no value (not evaluated) sorts last either way. One
    query for the page whatever the number of patients (joins, no per-row lookups).
    """
    key = WORKLIST_SORTS[sort]
    # NULLS LAST only where a value can be missing: on a column that always has one, it would keep
    # the database from reading the column's index in order (and from stopping after one page).
    nulls_last = True if sort not in NEVER_NULL_SORTS else None
    primary = key.desc(nulls_last=nulls_last) if direction == "desc" else key.asc(nulls_last=nulls_last)
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    standing = SignOff.objects.standing().filter(assessment=OuterRef("assessment"))
    # Every patient has its assessment (created with it): an inner join, which lets the database
    # read the patients in the order of an assessment column's index.
    patients = (Patient.objects.active().filter(assessment__isnull=False)
                .select_related("assessment", "assessment__current_evaluation", "assessment__updated_by")
                # Only the columns a row shows: not the recorded case nor the stored checklist.
                .defer("assessment__data", *(f"{_EVALUATION}{name}" for name in UNSHOWN_EVALUATION_FIELDS))
                .annotate(review_requested=Exists(requested),
                          signoff_decision=Subquery(standing.values("decision")[:1]))
                .order_by(primary, Upper("study_id").asc(), "pk"))
    return patients.filter(_worklist_filter(result=result, stage=stage, search=search))


def _worklist_filter(*, result: str, stage: str, search: str) -> Q:
    condition = Q()
    if result:
        condition &= Q(assessment__current_evaluation__overall=result)
    if stage:
        condition &= Q(assessment__stage=stage)
    if search:
        condition &= search_filter(search)
    return condition


def worklist_count(*, result: str = "", stage: str = "", search: str = "", **_sort) -> int:
    """How many patients ``worklist_patients`` gives for these filters, counted on the patients alone
    where no filter needs their assessment: an index-only count of the active patients' partial
    index, instead of joining every assessment to count them."""
    return Patient.objects.active().filter(_worklist_filter(result=result, stage=stage, search=search)).count()


class _CountedPaginator(Paginator):
    def __init__(self, object_list, per_page, *, count: int):
        super().__init__(object_list, per_page)
        self.count = count  # known: the paginator does not count the (joined, sorted) list again


def worklist_page(patients, *, number, per_page: int, count: int | None = None):
    """One page of ``patients`` (a ``worklist_patients`` queryset): the page's primary keys first, in
    order (a query without the per-row review and sign-off lookups, which the database would
    otherwise compute for every patient before sorting them), then those patients with everything
    the rows show, in the same order. ``count``: their number if known (``worklist_count``)."""
    keys = patients.values_list("pk", flat=True)
    paginator = Paginator(keys, per_page) if count is None else _CountedPaginator(keys, per_page, count=count)
    page = paginator.get_page(number)
    page.object_list = list(patients.filter(pk__in=list(page.object_list)))
    return page


#: The dispositions that settle an item for signing: a flag acknowledged, a blocking item accepted or
#: overridden (what ``undecided`` subtracts from the checklist's counts).
_DECIDING = (Q(status="flag", kind="acknowledged")
             | Q(status__in=("defer", "exclude", "missing"), kind__in=("accepted", "overridden")))


def physician_queue():
    """Current checklists a coordinator marked ready for review and no physician has signed, and
    signed ones a new rule-set version asks a physician to review again; oldest first, with how many
    items still need a physician's disposition and who marked the stage ready, when (one query).

    A patient whose stage nobody marked ready is not in the queue, whatever its checklist says.

    The membership is semi-joins only (no join to the dispositions, no grouping: with one, the
    database had to count the decisions of every candidate before it could sort and keep 50, and
    misjudged the join to the patients into nested loops discarding millions of rows); the decided
    count is a subquery per row shown. Use :func:`queue_page` to take the first rows.
    """
    signed = SignOff.objects.standing().filter(evaluation=OuterRef("pk"))
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    mark = ReadyMark.objects.open().filter(assessment=OuterRef("assessment"))
    decided = (Disposition.objects.filter(_DECIDING, evaluation=OuterRef("pk")).order_by()
               .values("evaluation").annotate(count=Count("pk")).values("count"))
    # "Current" as a lookup of the assessment by its unique current_evaluation: joined both ways
    # (evaluation to assessment and back) the database estimated one row and nested its loops.
    current = Assessment.objects.filter(current_evaluation=OuterRef("pk"), patient__withdrawn_at__isnull=True,
                                         closed_at__isnull=True)
    return (
        Evaluation.objects.filter(Exists(current))
        # A request on an unsigned checklist (the new version cannot evaluate its data) is the
        # coordinator's to resolve: it stays on the worklist, not in the physicians' queue.
        .filter((Exists(mark) & ~Exists(signed)) | (Exists(signed) & Exists(requested)))
        .annotate(review_requested=Exists(requested),
                  ready_marked_by=Subquery(mark.values("marked_by_name")[:1]),
                  ready_marked_at=Subquery(mark.values("marked_at")[:1]),
                  undecided=F("flag_count") + F("missing_count") + F("defer_count") + F("exclude_count")
                  - Coalesce(Subquery(decided, output_field=IntegerField()), 0))
        .select_related("assessment__patient")
        .defer(*UNSHOWN_EVALUATION_FIELDS)
        .order_by("created_at", "pk")
    )


def queue_page(queue, *, size: int) -> list:
    """The first ``size`` rows of a :func:`physician_queue` queryset: their keys in order first (the
    per-row subqueries are computed for the rows shown only), then those rows."""
    keys = list(queue.values_list("pk", flat=True)[:size])
    rows = {evaluation.pk: evaluation for evaluation in queue.filter(pk__in=keys).order_by()}
    return [rows[key] for key in keys if key in rows]
