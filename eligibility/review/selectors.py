"""Review, reads: the worklist (patients with their checklist and its review state) and the
physician's queue."""

from __future__ import annotations

import re
from functools import cache
from types import SimpleNamespace

from django.core.paginator import Paginator
from django.db import connection, connections, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from ..common import compiled
from ..common.kept import Kept
from ..common.vocabulary import OVERALL_LABELS, STAGE_LABELS
from ..patients.episodes import KEY_DATES
from ..patients.models import (
    LIST_SORT_COLUMNS,
    UNSHOWN_EVALUATION_FIELDS,
    Assessment,
    Evaluation,
    Patient,
    WorklistCount,
    worklist_order,
)
from ..patients.selectors import patient_key
from .found import PARTS, note_found
from .handoffs.models import Note, Question, ReadyMark
from .handoffs.selectors import with_handoff_state
from .models import Disposition, ReviewRequest, SignOff

#: The worklist's sort keys (a whitelist: the query string names a key, never a column). Each orders
#: by a column of the episode's worklist row (``Assessment.list_*``, kept by the database): the
#: counts and result of the current evaluation, the stage and result as ranks in their
#: vocabulary's order (worst result first), the study identifier in capitals (unique), the
#: initials, the last change; the not evaluated last either way; ties broken by the study identifier.
WORKLIST_SORTS = {sort: LIST_SORT_COLUMNS[sort][0] for sort in
                  ("study_id", "initials", "stage", "result", "flag", "defer", "exclude", "missing", "updated")}
DEFAULT_SORT = "updated"
DEFAULT_DIRECTION = "desc"
_EVALUATION = "assessment__current_evaluation__"
_STAGE_RANKS = {code: position for position, code in enumerate(STAGE_LABELS)}
_RESULT_RANKS = {code: position for position, code in enumerate(OVERALL_LABELS)}


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

    Ties are broken by the study identifier (unique whatever its letter case), so that the order is
    total and pages neither repeat nor skip a row; no value (not evaluated) sorts last either way.
    The listed rows, the sort key and the tie-break are columns of the episode's row, with a partial
    index per order (migration 0028): the database reads one page of that index, whatever the number
    of patients. One query for the page (joins, no per-row lookups).
    """
    # A column a filter holds to one value orders nothing: left out, the rest of the order is the
    # filter's index read in order (a result: evaluated, that rank, then the study identifier).
    constant = {"list_evaluated", "list_result"} if result else set()
    if stage:
        constant.add("list_stage")
    order = [f"-assessment__{field[1:]}" if field.startswith("-") else f"assessment__{field}"
             for field in worklist_order(sort, direction) if field.lstrip("-") not in constant]
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    standing = SignOff.objects.standing().filter(assessment=OuterRef("assessment"))
    # The current episode of a patient not withdrawn: the row is listed (an inner join, which lets
    # the database read the episodes in the order of an index and look their patients up).
    patients = (Patient.objects.active().filter(assessment__list_shown=True)
                .select_related("assessment", "assessment__current_evaluation", "assessment__updated_by")
                # Only the columns a row shows: not the stored checklist. The recorded case is read
                # (the expiries and the dates due of the page's rows, ``week.with_expiries``).
                .defer(*(f"{_EVALUATION}{name}" for name in UNSHOWN_EVALUATION_FIELDS))
                .annotate(review_requested=Exists(requested),
                          signoff_decision=Subquery(standing.values("decision")[:1]))
                .order_by(*order))
    return patients.filter(_worklist_filter(result=result, stage=stage, search=search, prefix="assessment__"))


def _worklist_filter(*, result: str, stage: str, search: str, prefix: str) -> Q:
    """The filters as conditions on the episode's worklist columns (``prefix``: the path from the
    model queried to the episode); a result or stage outside the vocabulary matches nothing."""
    condition = Q()
    if result:
        if result not in _RESULT_RANKS:
            return Q(pk__in=[])
        condition &= Q(**{f"{prefix}list_evaluated": 1, f"{prefix}list_result": _RESULT_RANKS[result]})
    if stage:
        if stage not in _STAGE_RANKS:
            return Q(pk__in=[])
        condition &= Q(**{f"{prefix}list_stage": _STAGE_RANKS[stage]})
    if search:
        condition &= search_filter(search) if prefix else Q(patient__in=Patient.objects.filter(search_filter(search)))
    return condition


#: Rows of ``WorklistCount`` past which the caption's read sums them into one per group first.
COUNT_ROWS_KEPT = 500


def worklist_count(*, result: str = "", stage: str = "", search: str = "", **_sort) -> int:
    """How many patients ``worklist_patients`` gives for these filters. Without a search: the sum of
    the kept counts of the groups the filters select (``WorklistCount``, kept by the database's
    triggers: a few rows at any number of patients). With one: counted on the episodes' partial
    indexes of the listed rows alone (index-only, with no join to the evaluations)."""
    if not search:
        if not _valid_filters(result, stage):
            return 0
        names, found = compiled.rows(("worklist count", result, stage), lambda: _kept_count(result, stage))
        kept = dict(zip(names, found[0], strict=True)) if found else {"total": 0, "rows": 0}
        if kept["rows"] > COUNT_ROWS_KEPT:
            worklist_counts_compact()
        return kept["total"]
    # "list_study >= ''" holds for every row: it names the column of the indexes' tie-break, without
    # which SQLite counted the listed rows by reading the whole table (0.9 s at 100,000, not 35 ms).
    return Assessment.objects.filter(list_shown=True, list_study__gte="").filter(
        _worklist_filter(result=result, stage=stage, search=search, prefix="")).count()


def _kept_count(result: str, stage: str):
    """The sum of the kept counts of the groups these filters select, and the number of rows summed:
    one row even of an empty table (an aggregate with no GROUP BY: the constant grouped by adds none)."""
    groups = Q()
    if result:
        groups &= Q(evaluated=1, result=_RESULT_RANKS[result])
    if stage:
        groups &= Q(stage=_STAGE_RANKS[stage])
    return (WorklistCount.objects.annotate(whole=Value(1)).values("whole")
            .annotate(total=Coalesce(Sum("delta", filter=groups), 0), rows=Count("pk")).values("total", "rows"))


def worklist_counts_compact() -> None:
    """Sum ``WorklistCount``'s rows into one per group (dropping groups at zero). PostgreSQL: one
    statement, whose deleted rows are those it read, so deltas appended meanwhile by writers (never
    blocked by it) stay, and two of these at once sum each row once (the second skips what the first
    deleted). SQLite: one write transaction (writers take the database's write lock when theirs
    begins: none appends between the read and the delete)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "WITH gone AS (DELETE FROM eligibility_worklistcount RETURNING evaluated, result, stage, delta) "
                "INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta) "
                "SELECT evaluated, result, stage, sum(delta) FROM gone GROUP BY 1, 2, 3 HAVING sum(delta) <> 0")
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT evaluated, result, stage, sum(delta) FROM eligibility_worklistcount "
                       "GROUP BY 1, 2, 3 HAVING sum(delta) <> 0")
        sums = cursor.fetchall()
        cursor.execute("DELETE FROM eligibility_worklistcount")
        if sums:
            cursor.executemany("INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta) "
                               "VALUES (%s, %s, %s, %s)", sums)


def worklist_counts_rebuild(using: str = "default") -> None:
    """SQLite: the kept counts counted again from the listed rows, in one write transaction (no
    writer appends meanwhile). Run after ``migrate`` and ``flush`` (``post_migrate``): a flush empties
    the tables one by one in no set order, so the episodes' deletion may append its deltas after the
    counts' table was emptied. PostgreSQL: nothing (a flush truncates, which fires no row trigger; and
    writers may be appending deltas while a migration runs)."""
    connection = connections[using]
    if connection.vendor != "sqlite" or "eligibility_worklistcount" not in connection.introspection.table_names():
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("DELETE FROM eligibility_worklistcount")
        cursor.execute("INSERT INTO eligibility_worklistcount (evaluated, result, stage, delta) "
                       "SELECT list_evaluated, list_result, list_stage, count(*) FROM eligibility_assessment "
                       "WHERE list_shown GROUP BY 1, 2, 3")


def worklist_page(*, result: str = "", stage: str = "", search: str = "", sort: str = DEFAULT_SORT,
                  direction: str = DEFAULT_DIRECTION, number, per_page: int, count: int | None = None):
    """Page ``number`` (as the user asked it: out of range gives the last) of
    :func:`worklist_patients` for these criteria, with their hand-off state: one query, the page's
    keys as a subquery (LIMIT and OFFSET of the sorted keys, read without the per-row review and
    sign-off lookups, which the database would otherwise compute for every patient before sorting
    them), then those patients with everything the rows show, in the same order. ``count``: their
    number if known (:func:`worklist_count`). Without a search the query's SQL is built once per
    connection for each filter, sort and page (``common.compiled``): the same on every request, and
    a page that exists (the first, or one with rows) brings their number with it (the kept counts
    summed in the same statement, so as of the same instant as its rows): one statement, not two;
    and ``questions_found``, whether any question is not closed (None: not asked, a search or a page
    past the last)."""
    asked = _page_number(number)
    if count is None and not search and asked is not None and asked <= PAGE_ASKED_MAX and _valid_filters(
            result, stage):
        # The page asked for, its rows with their number; past the last page (no row), as below.
        offset = (asked - 1) * per_page
        # The page's number and whether a question is open: the statement's, not the rows' (a change
        # to them, any save anywhere, makes no row again).
        found, listed = compiled.made_rows_with(
            ("worklist page counted", result, stage, sort, direction, offset, per_page),
            lambda: _page_query(result, stage, search, sort, direction, offset, per_page)
            .annotate(**_kept_count_columns(result, stage))
            .values(*_ROW_VALUES, "listed_total", "listed_count_rows", "questions_found"),
            _worklist_row, _ROWS_MADE, own=len(_ROW_VALUES))
        total = listed["listed_total"] if found else 0
        # Rows and their number agree (one statement), unless the kept counts were wrong: then, and
        # past the last page, the number is counted first, as below.
        if (found and total > offset) or (not found and asked == 1):
            if found and listed["listed_count_rows"] > COUNT_ROWS_KEPT:
                worklist_counts_compact()
            page = Paginator(range(total), per_page).page(asked)
            page.object_list = found
            page.questions_found = listed["questions_found"] if found else None
            return page
    paginator = Paginator(range(worklist_count(result=result, stage=stage, search=search) if count is None else count),
                          per_page)
    page = paginator.get_page(number)  # which page, and its place: the rows are read below
    offset = (page.number - 1) * per_page

    def values():
        return _page_query(result, stage, search, sort, direction, offset, per_page).values(*_ROW_VALUES)

    if search:
        found = [_worklist_row(row) for row in values()]
    else:
        found = compiled.made_rows(("worklist page", result, stage, sort, direction, offset, per_page), values,
                                   _worklist_row, _ROWS_MADE)
    page.object_list = found
    page.questions_found = None  # not asked
    return page


#: Past this page number the worklist counts first (the paginator then gives the last page): an
#: offset beyond the database's integers would be an error, not a page.
PAGE_ASKED_MAX = 100_000


def _page_number(number) -> int | None:
    """The page asked for as ``Paginator.get_page`` reads it: none or not a whole number, the first;
    below 1, None (the last: the paginator needs the count first)."""
    try:
        asked = int(number)
    except (TypeError, ValueError):
        return 1
    return asked if asked >= 1 else None


def _valid_filters(result: str, stage: str) -> bool:
    return (not result or result in _RESULT_RANKS) and (not stage or stage in _STAGE_RANKS)


def _page_query(result, stage, search, sort, direction, offset, per_page):
    patients = with_handoff_state(worklist_patients(result=result, stage=stage, search=search, sort=sort,
                                                    direction=direction))
    # among_rows: the page's keys read first, then those patients by their key (common/lookups.py).
    return patients.filter(pk__among_rows=patients.values_list("pk", flat=True)[offset:offset + per_page])


def _kept_count_columns(result: str, stage: str) -> dict:
    """:func:`_kept_count` as two columns of another query (subqueries run once a statement), and
    whether any question is not closed (the not-closed questions' partial index: one entry read),
    so that a worklist with none shows its open questions without asking for them."""
    kept = _kept_count(result, stage)
    return {"listed_total": Subquery(kept.values("total")), "listed_count_rows": Subquery(kept.values("rows")),
            "questions_found": Exists(Question.objects.exclude(state=Question.State.CLOSED))}


class WorklistUser:
    """Who changed a worklist row's episode last, as ``display_name`` names a user."""

    __slots__ = ("username", "first_name", "last_name")

    def __init__(self, username: str, first_name: str, last_name: str):
        self.username, self.first_name, self.last_name = username, first_name, last_name

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()  # as ``User.get_full_name``

    def get_username(self) -> str:
        return self.username


class WorklistEpisode(SimpleNamespace):
    """A worklist row's episode: what the row shows of it (its name, stage, closing, last change),
    its recorded case and key-date fields (``week.with_expiries``) and its ``current_evaluation``
    (a :class:`SimpleNamespace` of the checklist's result, its ``overall_label``, counts and ``ruleset_id``,
    or None); ``stage_label``: its stage in words."""

    def get_kind_display(self) -> str:
        return _KINDS.get(self.kind, self.kind)

    def get_close_reason_display(self) -> str:
        return _CLOSE_REASONS.get(self.close_reason, self.close_reason)


class WorklistRow(SimpleNamespace):
    """One row of the worklist: the patient's ``pk``, ``public_id``, ``study_id``, ``initials``, its
    hand-off state (``review_requested``, ``signoff_decision``, ``ready_marked_at``, ``ready_marked_by``,
    ``open_questions``) and ``assessment``: a :class:`WorklistEpisode`. Plain objects, not model
    instances: a page of 25 rows made a hundred instances (a fifth of the worklist's time, cProfile)."""


_KINDS = dict(Assessment.Kind.choices)
_CLOSE_REASONS = dict(Assessment.CloseReason.choices)
_ROW_PATIENT = ("pk", "public_id", "study_id", "initials")
_ROW_HANDOFF = ("review_requested", "signoff_decision", "ready_marked_at", "ready_marked_by", "open_questions")
_ROW_EPISODE = ("id", "number", "kind", "stage", "closed_at", "close_reason", "updated_at", "data",
                *dict.fromkeys(name for spec in KEY_DATES for name in (spec.field, spec.done_field) if name))
_ROW_USER = ("username", "first_name", "last_name")
_ROW_EVALUATION = ("id", "overall", "flag_count", "defer_count", "exclude_count", "missing_count", "ruleset_id")
_ROW_VALUES = (*_ROW_PATIENT, *_ROW_HANDOFF, *(f"assessment__{name}" for name in _ROW_EPISODE),
               *(f"assessment__updated_by__{name}" for name in _ROW_USER),
               *(f"{_EVALUATION}{name}" for name in _ROW_EVALUATION))


def _worklist_row(values: dict) -> WorklistRow:
    evaluation = SimpleNamespace(**{name: values[f"{_EVALUATION}{name}"] for name in _ROW_EVALUATION})
    evaluation.pk = evaluation.id
    evaluation.overall_label = OVERALL_LABELS.get(evaluation.overall, evaluation.overall)
    episode = WorklistEpisode(**{name: values[f"assessment__{name}"] for name in _ROW_EPISODE})
    episode.pk = episode.id
    episode.stage_label = STAGE_LABELS.get(episode.stage, episode.stage)
    episode.current_evaluation = evaluation if evaluation.id is not None else None
    episode.current_evaluation_id = evaluation.id
    episode.updated_by = WorklistUser(*(values[f"assessment__updated_by__{name}"] for name in _ROW_USER))
    return WorklistRow(assessment=episode, **{name: values[name] for name in (*_ROW_PATIENT, *_ROW_HANDOFF)})


#: The worklist's rows made so far, by database row (shared by the requests that read the same row,
#: never changed: ``worklist_rows`` writes each one's HTML once a day).
_ROWS_MADE = Kept(2048)


#: The dispositions that settle an item for signing: a flag acknowledged, a blocking item accepted or
#: overridden (what ``undecided`` subtracts from the checklist's counts).
_DECIDING = (Q(status="flag", kind="acknowledged")
             | Q(status__in=("defer", "exclude", "missing"), kind__in=("accepted", "overridden")))


def physician_queue():
    """Current checklists a coordinator marked ready for review and no physician has signed, and
    signed ones a new rule-set version asks a physician to review again; oldest first, with how many
    items still need a physician's disposition and who marked the stage ready, when (one query).

    A patient whose stage nobody marked ready is not in the queue, whatever its checklist says.

    The membership is :func:`_queue_keys` (its two parts' keys; no join to the dispositions, no
    grouping: with one, the database had to count the decisions of every candidate before it could
    sort and keep 50, and misjudged the join to the patients into nested loops discarding millions
    of rows); the decided count is a subquery per row shown. The worklist shows its first rows by
    :func:`queue_page`.
    """
    return (Evaluation.objects.filter(_queue_keys()).annotate(**_queue_annotations())
            .select_related("assessment__patient")
            .defer("assessment__data", *UNSHOWN_EVALUATION_FIELDS)  # not the recorded case: the queue shows none of it
            .order_by("created_at", "pk"))


def _queue_keys(size: int | None = None, *, by_parts: bool | None = None) -> Q:
    """The queue's checklists: the first ``size`` (all: None) by key (an evaluation's key grows with
    the time it was made) of the episodes' current checklists that are in one of its two parts:
    an open ready mark and nobody has signed, or signed and an open review request (a request on an
    unsigned checklist, which the new version cannot evaluate, is the coordinator's to resolve: it
    stays on the worklist).

    ``by_parts`` (the default on PostgreSQL; on SQLite :func:`queue_page` chooses, :func:`_queue_short`):
    each part's first ``size`` keys as a subquery of its own, the episodes among the open marks' or
    requests' (``among_rows``: read first), so that the planner may start from whichever is smaller,
    the few open marks of a short queue or the episodes in the order of their checklists when most
    are marked. Read the second way only, a queue of 20 at 3,000 episodes read all 3,000 (11 ms of
    server time, growing with the programme; 0.8 ms by parts, the same 1.6 ms as before for a queue
    of 1,000).

    Otherwise: the episodes in the order of their unique index on the current evaluation, each
    one's mark, signature and request looked up (scalar subqueries under the OR, not EXISTS:
    PostgreSQL could answer an EXISTS under an OR by hashing every open mark first) until ``size``
    are found. SQLite's planner has no statistics to choose with: by parts, it read every episode for
    the requests' part of a long queue (9 ms at 3,000 with 1,000 marked, where this way reads about
    150: 0.9 ms); this way, it reads every open episode for a short one (5.7 ms at 3,000, 166 ms at
    100,000). :func:`queue_page` chooses for it (:func:`_queue_short`)."""
    if by_parts is None:
        by_parts = connection.vendor == "postgresql"
    episodes = Assessment.objects.filter(current_evaluation__isnull=False, closed_at__isnull=True,
                                         patient__withdrawn_at__isnull=True)
    if by_parts:
        signed = Exists(SignOff.objects.standing().filter(evaluation=OuterRef("current_evaluation")))
        marked = episodes.filter(pk__in=ReadyMark.objects.open().values("assessment_id")).filter(~signed)
        requested = episodes.filter(pk__in=ReviewRequest.objects.open().values("assessment_id")).filter(signed)
        parts = [part.order_by("current_evaluation_id").values("current_evaluation_id")[:size]
                 for part in (marked, requested)]
        return Q(pk__among_rows=parts[0]) | Q(pk__among_rows=parts[1])
    signed = SignOff.objects.standing().filter(evaluation=OuterRef("current_evaluation"))
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("pk"))
    mark = ReadyMark.objects.open().filter(assessment=OuterRef("pk"))
    keys = (episodes.alias(open_mark=Subquery(mark.order_by().values("pk")[:1]),
                           standing_signoff=Subquery(signed.order_by().values("pk")[:1]),
                           open_request=Subquery(requested.order_by().values("pk")[:1]))
            .filter(Q(open_mark__isnull=False, standing_signoff__isnull=True)
                    | Q(standing_signoff__isnull=False, open_request__isnull=False))
            .order_by("current_evaluation_id").values("current_evaluation_id"))
    return Q(pk__in=keys[:size])


def _queue_annotations() -> dict:
    """What a queue row shows besides the checklist's own columns: a review request, who marked the
    stage ready and when, the items still needing a disposition."""
    requested = ReviewRequest.objects.open().filter(assessment=OuterRef("assessment"))
    mark = ReadyMark.objects.open().filter(assessment=OuterRef("assessment"))
    decided = (Disposition.objects.filter(_DECIDING, evaluation=OuterRef("pk")).order_by()
               .values("evaluation").annotate(count=Count("pk")).values("count"))
    return {"review_requested": Exists(requested),
            "ready_marked_by": Subquery(mark.values("marked_by_name")[:1]),
            "ready_marked_at": Subquery(mark.values("marked_at")[:1]),
            "undecided": F("flag_count") + F("missing_count") + F("defer_count") + F("exclude_count")
            - Coalesce(Subquery(decided, output_field=IntegerField()), 0)}


class QueueEpisode:
    """A queue row's episode: what its name shows (``patients/_episode_name.jinja``) and its patient."""

    __slots__ = ("number", "kind", "patient")

    def __init__(self, number: int, kind: str, patient: SimpleNamespace):
        self.number, self.kind, self.patient = number, kind, patient

    get_kind_display = WorklistEpisode.get_kind_display  # the kind in words, as the worklist's rows


class QueueRow(SimpleNamespace):
    """One row of the physicians' queue as the worklist shows it (``pk``, ``stage``, ``overall``,
    ``created_at``, ``stage_label``, ``overall_label``, the annotations of :func:`physician_queue`, ``assessment``: a
    :class:`QueueEpisode` with its ``patient``'s ``public_id``, ``study_id`` and ``initials``)."""


_QUEUE_OWN = ("pk", "stage", "overall", "created_at")
_QUEUE_EPISODE = ("assessment__number", "assessment__kind")
_QUEUE_PATIENT = ("assessment__patient__public_id", "assessment__patient__study_id",
                  "assessment__patient__initials")


def _queue_page_query(size: int, *, by_parts: bool | None = None):
    """The first ``size`` rows of the queue by key in one query: their keys as subqueries
    (:func:`_queue_keys`), then what those rows show (the per-row subqueries for those rows only)."""
    annotations = _queue_annotations()
    return (Evaluation.objects.filter(_queue_keys(size, by_parts=by_parts)).annotate(**annotations).order_by("pk")
            .values(*_QUEUE_OWN, *_QUEUE_EPISODE, *_QUEUE_PATIENT, *annotations)[:size])


@cache
def _queue_sizes_sql() -> str:
    """The open ready marks, the open review requests and the listed patients (the kept counts)."""
    mark, request, kept = ReadyMark._meta, ReviewRequest._meta, WorklistCount._meta
    return (  # names from the models' meta, no value
        f'SELECT (SELECT COUNT(*) FROM "{mark.db_table}" WHERE "{mark.get_field("cleared_at").column}" IS NULL), '  # noqa: S608
        f'(SELECT COUNT(*) FROM "{request.db_table}" WHERE "{request.get_field("resolved_at").column}" IS NULL), '
        f'(SELECT COALESCE(SUM("{kept.get_field("delta").column}"), 0) FROM "{kept.db_table}")')


def _queue_short(size: int) -> bool:
    """SQLite: whether the queue is short enough against the programme for its keys to be read by
    parts (:func:`_queue_keys`). The ordered read looks at about ``size`` x episodes / candidates
    episodes (3 µs each: three look-ups), the read by parts at every candidate (9 µs each: its row,
    its signature, the sort), a candidate being an open ready mark or an open review request. At
    100,000 episodes a queue of 20 took 166 ms the ordered way and 1.6 ms by parts; a queue of 33,000
    3.8 ms the ordered way. One more statement (counts of two partial indexes and the kept counts)."""
    marks, requests, episodes = compiled.fetch(_queue_sizes_sql())[0]
    candidates = marks + requests
    return candidates * candidates * 3 < size * episodes


def queue_page(*, size: int, by_parts: bool | None = None) -> list[QueueRow]:
    """The first ``size`` rows of :func:`physician_queue`, oldest first, as the worklist shows them:
    one query, its SQL built once per connection (``common.compiled``), its rows plain objects, each
    made once per process for the same database row (``compiled.made_rows``: shared, never changed;
    the worklist writes a row's HTML once, ``worklist_rows.queue_rows``).
    ``by_parts``: which way to their keys (:func:`_queue_keys`); by default PostgreSQL's planner
    chooses (by parts), on SQLite the queue's length against the programme's (:func:`_queue_short`)."""
    if by_parts is None and connection.vendor != "postgresql":
        by_parts = _queue_short(size)
    shown = compiled.made_rows(("physician queue page", size, by_parts),
                               lambda: _queue_page_query(size, by_parts=by_parts), _queue_row, _QUEUE_MADE)
    shown.sort(key=lambda row: (row.created_at, row.pk))  # as physician_queue orders them
    return shown


def _queue_row(values: dict) -> QueueRow:
    patient = SimpleNamespace(**{name.rsplit("__", 1)[1]: values.pop(name) for name in _QUEUE_PATIENT})
    episode = QueueEpisode(values.pop("assessment__number"), values.pop("assessment__kind"), patient)
    return QueueRow(assessment=episode, stage_label=STAGE_LABELS.get(values["stage"], values["stage"]),
                    overall_label=OVERALL_LABELS.get(values["overall"], values["overall"]), **values)


#: The queue's rows made so far, by database row (a few physicians' queues).
_QUEUE_MADE = Kept(2048)


#: What the checklist page reads with the patient, in one query: its episode and that episode's current
#: checklist with its rule-set version and author, and of the checklist it re-evaluated (if any) only
#: what the page links to (not its documents).
_WITH_CHECKLIST = ("assessment__current_evaluation__ruleset", "assessment__current_evaluation__created_by",
                   "assessment__current_evaluation__reevaluated_from")
_NOT_READ = tuple(f"assessment__current_evaluation__reevaluated_from__{name}"
                  for name in ("inputs", "checklist", "changes"))


#: What the checklist page shows of the episode's open ready mark (at most one: a constraint).
_OPEN_MARK = ("id", "stage", "marked_by_name", "marked_at")


def _parts_found():
    """For each part of the checklist page (``found.PARTS``), whether the current checklist has rows
    of it: the conditions of the page's own reads, or looser ones (a part is skipped only if these
    find nothing)."""
    checklist = OuterRef("assessment__current_evaluation_id")
    episode = OuterRef("assessment__current_evaluation__assessment_id")  # the checklist's own episode
    parts = {
        "dispositions": Disposition.objects.filter(evaluation_id=checklist),
        "signoffs": SignOff.objects.filter(evaluation_id=checklist),
        "review_requests": ReviewRequest.objects.filter(evaluation_id=checklist),
        # Looser than the page's (the checklist just before, voided since this one was made): any
        # voided signature on an earlier checklist of the episode.
        "replaced_signoffs": SignOff.objects.filter(evaluation__assessment_id=episode, evaluation_id__lt=checklist,
                                                    voided_at__isnull=False),
        "questions": Question.objects.filter(assessment_id=episode),
        "item_notes": Note.objects.filter(patient__episodes=episode).exclude(code=""),
    }
    if tuple(parts) != PARTS:
        raise RuntimeError("review.found.PARTS and the checklist page's parts differ")
    return {f"found_{name}": Exists(rows) for name, rows in parts.items()}


def _with_checklist(key):
    mark = ReadyMark.objects.open().filter(assessment=OuterRef("assessment")).order_by()
    return (Patient.objects.select_related(*_WITH_CHECKLIST).defer(*_NOT_READ).filter(public_id=key)
            .annotate(**{f"open_mark_{name}": Subquery(mark.values(name)[:1]) for name in _OPEN_MARK},
                      **_parts_found()))


def patient_with_checklist(public_id):
    """The checklist page's read: the patient (by its opaque identifier), the current checklist of its
    episode (404 for an unknown patient or one not evaluated yet) and the episode's open ready mark
    (or None), in one query built once per connection (compiled); with it, which of the page's other
    parts the checklist has rows of (``found``: the others are not read)."""
    found = compiled.objects_for("patient with checklist", _with_checklist, patient_key(public_id))
    if not found:
        raise Http404("No such patient.")
    patient = found[0]
    evaluation = patient.assessment.current_evaluation
    if evaluation is None:
        raise Http404("Not evaluated yet.")
    if evaluation.assessment_id == patient.assessment.pk:
        evaluation.assessment = patient.assessment  # the episode it belongs to, read above
    note_found(evaluation, (name for name in PARTS if getattr(patient, f"found_{name}")))
    mark = None
    if patient.open_mark_id is not None:
        # The mark as the ORM makes it from a row, its other columns deferred (read if asked for).
        read = {"assessment_id": patient.assessment.pk,
                **{name: getattr(patient, f"open_mark_{name}") for name in _OPEN_MARK}}
        names = [field.attname for field in ReadyMark._meta.concrete_fields if field.attname in read]
        mark = ReadyMark.from_db(patient._state.db, names, [read[name] for name in names])  # in the fields' order
    return patient, evaluation, mark
