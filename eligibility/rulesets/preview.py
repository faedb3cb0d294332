"""The impact preview: every open checklist evaluated under the active version and a draft, and
compared. The open checklists come from the packages above (patients and their review), which
register their source (:func:`open_cases_provider`): rule sets do not depend on them.

An administrator's preview runs as background work (:func:`preview_run`, a task of
:mod:`.tasks`), batch by batch under a lease like the re-evaluation after a publish
(:mod:`.leases`), into a :class:`~.models.RuleSetPreview` and its rows, which the preview page
lists a page at a time. :func:`impact_preview` computes the same in memory (tests, small programmes).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from ..rules import CaseValidationError, Engine, dumps, in_catalogue_order, ruleset_to_file
from .leases import LeaseLost, lease_claim, lease_finish, lease_held, lease_renew, lease_stopped
from .models import RuleSet, RuleSetPreview, RuleSetPreviewRow
from .selectors import engine_for, ruleset_data, ruleset_get

logger = logging.getLogger(__name__)

#: Open assessments compared per batch of a preview (each batch's rows and progress one short
#: transaction; the comparing happens before it).
PREVIEW_BATCH_SIZE = 500


class OpenCase(NamedTuple):
    """An open checklist as the preview needs it."""

    pk: int  # the assessment (the order of the batches, and a preview's cursor)
    patient_id: int
    public_id: Any  # the patient's opaque identifier
    study_id: str
    initials: str
    stage: str
    data: dict
    signed: bool  # a standing signature on the current checklist


@dataclass(frozen=True)
class OpenCasesSource:
    """Where the open cases come from: ``count()`` of them, and ``batch(after=pk, limit=n)``: the
    next ``n`` after assessment ``pk``, in the order of the assessments' primary keys."""

    count: Callable[[], int]
    batch: Callable[..., list[OpenCase]]


#: The source of the open cases (registered by the review package).
_SOURCES: list[OpenCasesSource] = []


def open_cases_provider(source: OpenCasesSource) -> OpenCasesSource:
    """Register the source of the open cases (one: a preview's cursor is an assessment)."""
    _SOURCES[:] = [source]
    return source


def _source() -> OpenCasesSource:
    return _SOURCES[0]


def open_cases(batch_size: int = 2000) -> Iterable[OpenCase]:
    """Every open case, in batches."""
    after = 0
    while batch := _source().batch(after=after, limit=batch_size):
        yield from batch
        after = batch[-1].pk


@dataclass
class Impact:
    """What publishing a draft would change for the open assessments."""

    total: int = 0
    transitions: Counter = field(default_factory=Counter)  # (before, after) overall -> patients
    changed: list[dict] = field(default_factory=list)  # patients whose result or an item changes
    #: Of ``changed``, signed checklists a physician will be asked to review (not re-evaluated).
    reviews: int = 0
    #: Patients whose data the draft rejects (e.g. a product it removes), with why.
    unevaluable: list[dict] = field(default_factory=list)

    @property
    def summary(self) -> list[tuple[str, str, int]]:
        return [(before, after, count) for (before, after), count in self.transitions.most_common()]


def item_changes(before, after) -> list[tuple[str, str | None, str | None]]:
    """(code, status before, status after) of each item whose status or reason differs, matched by
    code in catalogue order (criteria-v2 2.1): an item on one side only is a change, its other
    status ``None`` (a rule enabled or disabled by the draft)."""
    old_by_code = {item.code: item for item in before}
    new_by_code = {item.code: item for item in after}
    changes = []
    for code in in_catalogue_order(old_by_code.keys() | new_by_code.keys()):
        old, new = old_by_code.get(code), new_by_code.get(code)
        if old is None or new is None or old.status != new.status or old.reason != new.reason:
            changes.append((code, old and old.status, new and new.status))
    return changes


class Compared(NamedTuple):
    """One open case under both versions: ``before`` and ``after`` overall results, the items that
    change, and whether publishing would ask a physician (``errors``: the draft cannot evaluate it)."""

    before: str = ""
    after: str = ""
    items: list = []
    asks: bool = False
    errors: list | None = None

    @property
    def changed(self) -> bool:
        return bool(self.items) or self.before != self.after


def compare(case: OpenCase, active_engine: Engine, draft_engine: Engine, today) -> Compared:
    """``case`` evaluated under both engines (every stored case on ``today``, the programme's date,
    unless its snapshot holds an ``as_of`` (criteria-v2 2.5), never the date an earlier evaluation
    recorded)."""
    raw = dumps({**case.data, "stage": case.stage})  # stored data was validated when saved: encoded once, read twice
    try:
        before = active_engine.evaluate(active_engine.parse_json(raw, today))
        after = draft_engine.evaluate(draft_engine.parse_json(raw, today))
    except CaseValidationError as exc:
        return Compared(errors=exc.errors)
    items = item_changes(before.items, after.items)
    # What publishing will do: re-evaluate, or (signed, a status or the result changes) ask.
    asks = case.signed and (before.overall != after.overall or any(old != new for _, old, new in items))
    return Compared(before.overall, after.overall, items, asks)


def impact_preview(*, draft: RuleSet) -> Impact:
    """Evaluate every open assessment under the active version and under ``draft`` and compare
    (the caller refuses a draft that is not publishable first: see the views)."""
    active_engine = engine_for(ruleset_get())
    draft_engine = Engine(ruleset_data(draft))
    impact = Impact()
    today = timezone.localdate()
    for case in open_cases():
        impact.total += 1
        compared = compare(case, active_engine, draft_engine, today)
        if compared.errors is not None:
            impact.unevaluable.append({"public_id": case.public_id, "study_id": case.study_id,
                                       "initials": case.initials, "errors": compared.errors})
            continue
        if compared.before != compared.after:
            impact.transitions[(compared.before, compared.after)] += 1
        if compared.changed:
            impact.changed.append({"public_id": case.public_id, "study_id": case.study_id, "initials": case.initials,
                                   "before": compared.before, "after": compared.after, "items": compared.items,
                                   "signed": case.signed, "asks": compared.asks})
            impact.reviews += compared.asks
    return impact


# The administrator's preview, as background work.

class PreviewRefused(Exception):
    """The draft's values changed before its preview ran: the preview of those values cannot be made."""


def preview_digest(draft: RuleSet) -> str:
    """What a preview of ``draft`` compares, as a SHA-256: its values, rules and products as a
    rule-set file writes them (the same data always gives the same bytes), without its name."""
    return hashlib.sha256(ruleset_to_file(replace(ruleset_data(draft), name="", version=None), None)).hexdigest()


@transaction.atomic
def preview_request(*, draft: RuleSet, by) -> tuple[RuleSetPreview, bool]:
    """The preview of ``draft`` as it is against the active version: the existing one (also of an
    earlier revision whose values, rules and products were the same: a name or a change note edited
    since), or a new one queued (``True``: to enqueue its task, once committed). Two administrators
    asking at once get one (the constraint on draft, revision and active version: the second
    insert fails and reads the first's). One that failed or stalled is queued again (``True``). A
    new one deletes the draft's earlier, stale previews. Under the draft's row lock, which its
    edits take: the revision and the values read together."""
    draft = RuleSet.objects.select_for_update().get(pk=draft.pk)
    active, digest = ruleset_get(), preview_digest(draft)
    preview = RuleSetPreview.objects.filter(draft=draft, active=active, digest=digest).first()
    if preview is None:
        preview, created = RuleSetPreview.objects.get_or_create(
            draft=draft, revision=draft.revision, active=active, defaults={"requested_by": by, "digest": digest})
        if created:
            RuleSetPreview.objects.filter(draft=draft).exclude(pk=preview.pk).delete()
            return preview, True
    stalled_before = timezone.now() - settings.REEVALUATION_STALLED_AFTER
    # Conditional: of two administrators resuming one at once, one queues it again.
    requeued = RuleSetPreview.objects.filter(pk=preview.pk).filter(
        Q(status=RuleSetPreview.Status.FAILED)
        | Q(status=RuleSetPreview.Status.QUEUED, enqueued_at__lt=stalled_before)
        | Q(status=RuleSetPreview.Status.RUNNING, heartbeat_at__lt=stalled_before)).update(
        status=RuleSetPreview.Status.QUEUED, enqueued_at=timezone.now(), error="")
    preview.refresh_from_db()
    return preview, bool(requeued)


def preview_claim(*, preview_id: int, worker: str) -> RuleSetPreview | None:
    return lease_claim(RuleSetPreview.objects.select_related("draft", "active"), pk=preview_id, worker=worker,
                       stalled_after=settings.REEVALUATION_STALLED_AFTER)


def preview_run(*, preview_id: int, worker: str, batch_size: int = PREVIEW_BATCH_SIZE) -> RuleSetPreview | None:
    """Run (or resume) the preview ``preview_id`` as ``worker`` (a unique token: the task's id):
    the open cases after its cursor compared a batch at a time, each batch's rows written with the
    progress and cursor in one transaction under the lease (:mod:`.leases`); finished, its rows are
    numbered in the page's order and the transitions counted. Returns the finished record, or
    ``None`` when there was nothing for this worker to do. A draft whose values were edited since
    the preview was asked for cannot be previewed as it was: the run stops as failed, saying so
    (the page says the preview is out of date and offers a new one). Saves never wait for it: it
    locks no assessment, only its own record in each batch's transaction."""
    run = preview_claim(preview_id=preview_id, worker=worker)
    if run is None:
        return None
    held = lease_held(run)
    try:
        with transaction.atomic():
            # The draft's values as they were asked for (its edits take the same lock): one snapshot.
            draft = RuleSet.objects.select_for_update().get(pk=run.draft_id)
            if preview_digest(draft) != run.digest:
                raise PreviewRefused
            draft_engine = Engine(ruleset_data(draft))
        active_engine = engine_for(run.active)
        if run.total is None:
            held.filter(total__isnull=True).update(total=_source().count())
        today, after = timezone.localdate(), run.cursor
        while cases := _source().batch(after=after, limit=batch_size):
            rows, reviews = [], 0
            for case in cases:
                compared = compare(case, active_engine, draft_engine, today)
                if compared.errors is not None:
                    rows.append(RuleSetPreviewRow(preview_id=run.pk, patient_id=case.patient_id,
                                                  rank=RuleSetPreviewRow.Rank.UNEVALUABLE, detail=compared.errors))
                elif compared.changed:
                    rows.append(RuleSetPreviewRow(
                        preview_id=run.pk, patient_id=case.patient_id, rank=_rank(compared),
                        before=compared.before, after=compared.after, detail=[list(item) for item in compared.items],
                        signed=case.signed, asks=compared.asks))
                    reviews += compared.asks
            unevaluable = sum(row.rank == RuleSetPreviewRow.Rank.UNEVALUABLE for row in rows)
            after = cases[-1].pk
            with transaction.atomic():
                lease_renew(held)
                RuleSetPreviewRow.objects.bulk_create(rows)
                held.update(cursor=after, done=F("done") + len(cases), changed=F("changed") + len(rows) - unevaluable,
                            reviews=F("reviews") + reviews, unevaluable=F("unevaluable") + unevaluable)
        with transaction.atomic():
            lease_renew(held)
            _number_rows(run.pk)
            transitions = (RuleSetPreviewRow.objects.filter(preview_id=run.pk, rank=RuleSetPreviewRow.Rank.RESULT)
                           .values_list("before", "after").annotate(patients=Count("id"))
                           .order_by("-patients", "before", "after"))
            lease_finish(held, transitions=[list(row) for row in transitions])
    except LeaseLost:
        logger.warning("Impact preview %s: taken over by another worker, or deleted", run.pk)
        return None
    except PreviewRefused:
        held.update(status=RuleSetPreview.Status.FAILED, finished_at=timezone.now(),
                    error="the draft's values were edited before the preview started")
        return RuleSetPreview.objects.get(pk=run.pk)
    except BaseException as exc:
        lease_stopped(run, exc)
        logger.exception("Impact preview %s stopped", run.pk)
        raise
    return RuleSetPreview.objects.get(pk=run.pk)


def _rank(compared: Compared) -> int:
    """Changes of the result first, then of a status, then of wording only (the reason quotes
    the new values)."""
    if compared.before != compared.after:
        return RuleSetPreviewRow.Rank.RESULT
    if any(old != new for _, old, new in compared.items):
        return RuleSetPreviewRow.Rank.STATUS
    return RuleSetPreviewRow.Rank.WORDING


def _number_rows(preview_id: int) -> None:
    """Number the preview's rows 1, 2, ... in the page's order (rank, then study identifier): one
    statement on either database (UPDATE ... FROM, SQLite 3.33 and later), reading the rows by
    the preview's index."""
    rows = RuleSetPreviewRow._meta.db_table
    patient = RuleSetPreviewRow._meta.get_field("patient").related_model
    patients, study_id = patient._meta.db_table, patient._meta.get_field("study_id").column
    quote = connection.ops.quote_name
    # Study identifiers in code-point order on both databases (as Python sorts them).
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    sql = (f"UPDATE {quote(rows)} SET position = numbered.n FROM ("  # noqa: S608 (names from the models, quoted)
           f"SELECT r.id AS row_id, ROW_NUMBER() OVER (ORDER BY r.rank, p.{quote(study_id)}{collate}, r.id) AS n "
           f"FROM {quote(rows)} r JOIN {quote(patients)} p ON p.id = r.patient_id WHERE r.preview_id = %s"
           f") AS numbered WHERE {quote(rows)}.id = numbered.row_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [preview_id])
