"""Re-evaluation under a newly published rule-set version: unsigned open checklists get a new
evaluation; signed ones stay pinned to their version and, where a status or the result would
change, a physician's review is requested. Runs as background work after a version is published
(:mod:`.tasks`, recording its progress in :class:`~eligibility.rulesets.models.RuleSetReevaluation`),
from ``manage.py reevaluate_open_assessments``, and for one patient restored after versions were
published while it was withdrawn."""

from __future__ import annotations

import datetime
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from ..common import compiled
from ..common.display import input_error_text, item_status_text
from ..common.people import display_name
from ..patients import lifecycle
from ..patients.models import Assessment
from ..patients.services import checklist_changes, evaluation_build_encoded
from ..rules import OVERALL_LABELS, CaseValidationError, Engine, dumps
from ..rulesets.leases import LeaseLost, lease_finish, lease_held, lease_renew, lease_stopped, stopped_by
from ..rulesets.models import RuleSet, RuleSetReevaluation, RuleSetReevaluationPart
from ..rulesets.selectors import engine_for, ruleset_get
from .models import ReviewRequest, SignOff

logger = logging.getLogger(__name__)

#: Assessments per batch: each batch is one transaction holding its rows' locks (on SQLite, the
#: database's write lock), so a coordinator's save waits for one batch at most. A batch's rows are
#: evaluated before its transaction; only the writing holds the locks. The run after a publish
#: starts at BATCH_SIZE and keeps each batch's locked part near its target, however loaded the
#: machine (bench/bench_publish.py): smaller batches cost more per row, so no smaller than
#: needed, within BATCH_SIZES. The target: LOCK_TARGET_SECONDS on SQLite, where every save waits
#: for the batch and then polls for the lock; one and a half times that on PostgreSQL, where only
#: a save of one of the batch's patients waits, queued for the lock and granted as soon as the
#: batch commits. (Twice that, 80 ms, left a save's wait 20 ms of margin under its 100 ms target:
#: one wait of 116 ms in six runs of bench_publish at 100,000; at 60 ms none over 19 ms in three,
#: the re-evaluation 41-46 s instead of 36-44 s.)
BATCH_SIZE = 50
BATCH_SIZES = (10, 1000)
#: At most this many parts of a re-evaluation (their size grows past ``REEVALUATION_PART_SIZE`` if
#: needed), and the last part's upper bound: every key.
MAX_PARTS = 1000
LAST_KEY = 2**63 - 1
LOCK_TARGET_SECONDS = 0.04

#: The last stage: an assessment approved at it is no longer open.
INFUSION_STAGE = "pre_infusion"


def open_assessments():
    """Open episodes of patients not withdrawn, not yet signed off for infusion (a standing approval at
    the last stage closes one). A closed episode keeps the rule-set versions it was evaluated under."""
    closed = SignOff.objects.standing().filter(assessment=OuterRef("pk"), stage=INFUSION_STAGE,
                                               decision=SignOff.Decision.APPROVED)
    return (Assessment.objects.filter(patient__withdrawn_at__isnull=True, closed_at__isnull=True)
            .annotate(closed=Exists(closed)).filter(closed=False))


def standing_on_current_checklist():
    """A standing sign-off on the assessment's current evaluation (for ``Exists`` on assessments)."""
    return SignOff.objects.standing().filter(assessment=OuterRef("pk"), evaluation=OuterRef("current_evaluation"))


@dataclass
class Reevaluation:
    """What a run (or one batch) did; a publish's run adds each batch's to its record."""

    reevaluated: int = 0
    unchanged_signed: int = 0
    review_requested: int = 0
    unevaluable: int = 0
    changed_meanwhile: int = 0  # saved by someone while this ran: that save evaluated them


def reevaluate_open_assessments(*, ruleset: RuleSet, by, batch_size: int = BATCH_SIZE) -> Reevaluation:
    """Every open assessment under ``ruleset`` that it has not done yet, in batches, each batch its
    own short transaction (a coordinator's save waits for one batch at most, never for the whole).

    Unsigned ones get a new evaluation that says which items changed; decisions on unchanged
    items carry over. Signed ones keep their pinned evaluation; where a status or the result would
    change they are marked for a physician's review instead.

    Each batch locks its rows and reads them again under the lock, so whatever was saved meanwhile
    is what is evaluated: a save that evaluated under the retired version (it began before the
    publish committed) is re-evaluated here, and one already under ``ruleset`` is left alone; so is
    a row another run did meanwhile (never two evaluations of one assessment by one version).
    Resumable: what this version evaluated or asked about already is not done again. This is the
    by-hand path (``manage.py reevaluate_open_assessments``); after a publish, :func:`reevaluation_run`
    does the same while recording its progress.
    """
    engine, engines = engine_for(ruleset), _published_engines()
    outcome = Reevaluation()
    pks = list(_to_reevaluate(ruleset).values_list("pk", flat=True))
    for start in range(0, len(pks), batch_size):
        batch = pks[start:start + batch_size]
        plans = batch_plans(ruleset, batch, engine, engines, by)
        with transaction.atomic():
            _reevaluate_batch(batch, engine, engines, ruleset, by, outcome, plans)
    return outcome


def reevaluation_claim(*, reevaluation_id: int, worker: str) -> RuleSetReevaluationPart | None:
    """Take a part of a re-evaluation for ``worker`` (starting the re-evaluation first, if no worker
    has: its parts planned); ``None`` when it is finished, or every part left is held by a worker
    that reported a batch within ``REEVALUATION_STALLED_AFTER``."""
    run = _reevaluation_start(reevaluation_id=reevaluation_id, worker=worker)
    return None if run is None else _part_claim(run, worker)


def reevaluation_run(*, reevaluation_id: int, worker: str, by=None, batch_size: int | None = None,
                     helper: bool = False) -> RuleSetReevaluation | None:
    """Run (or resume, or help with) the re-evaluation after a publish as ``worker`` (a unique
    token: the task's id); ``by`` is recorded on the new evaluations (default: the administrator who
    published). Returns the record as this worker leaves it (finished once every part is, or still
    running while another worker's part is left), or ``None`` when there was nothing for this
    worker to do (finished, or every part left is held by a live worker).

    The first worker to start it plans its parts (:func:`_reevaluation_start`: shares of
    ``REEVALUATION_PART_SIZE`` open assessments) and enqueues a task for each part but its own, so
    that every task worker running (on this machine or others) takes one; each then takes parts
    until none is left. Every batch renews its part's lease and moves the part's cursor in the
    batch's own transaction, and adds its counts to the record last (the record's row is locked
    only while the batch commits: workers do not wait for each other): a batch either commits
    with its progress or not at all, and a worker that lost its part commits nothing more. An error
    (or the worker stopped mid-task) marks the part and the record failed, which the page offers to
    resume, and is raised again for the task queue to record; the other workers take no part of a
    failed re-evaluation until it is resumed. ``helper``: a task the first worker enqueued for a
    part, which helps a running re-evaluation and never starts (or restarts) one: only the
    publish's task, Resume and the command do. ``batch_size``: fixed batches (default: sized by
    their lock time, see :data:`LOCK_TARGET_SECONDS`)."""
    run = _reevaluation_start(reevaluation_id=reevaluation_id, worker=worker, helper=helper)
    if run is None:
        return None
    ruleset, by = run.ruleset, by or run.requested_by
    try:
        engine, engines = engine_for(ruleset), _published_engines()
    except BaseException as exc:
        _record_failed(run, exc)
        raise
    did_a_part = False
    while (part := _part_claim(run, worker)) is not None:
        did_a_part = True
        try:
            _part_run(run, part, engine, engines, by, batch_size)
        except LeaseLost:  # this worker was thought dead: it stops, and leaves the rest to the others
            logger.warning("Re-evaluation under rule-set version %s: part %s taken over by another worker",
                           ruleset.version, part.number)
            return None
        except BaseException as exc:
            if lease_stopped(part, exc):  # not if the part had been taken over: the others go on
                _record_failed(run, exc)
            raise
    finished = _reevaluation_finish(run)
    if not did_a_part:
        return None
    return finished or RuleSetReevaluation.objects.get(pk=run.pk)  # running still: another worker's part is left


def _record_failed(run: RuleSetReevaluation, exc: BaseException) -> None:
    """The re-evaluation stopped by ``exc``: its record failed (the page offers Resume). Logged by
    the error's class only, as recorded: a database error's message can quote a row's values."""
    RuleSetReevaluation.objects.filter(pk=run.pk).exclude(status=RuleSetReevaluation.Status.FINISHED).update(
        status=RuleSetReevaluation.Status.FAILED, finished_at=timezone.now(), error=stopped_by(exc))
    logger.error("Re-evaluation under rule-set version %s stopped: %s", run.ruleset.version, stopped_by(exc))


def _reevaluation_start(*, reevaluation_id: int, worker: str, helper: bool = False) -> RuleSetReevaluation | None:
    """Under the record's row lock: ``None`` once it is finished (or gone). Queued, failed or
    stalled: (re)started by ``worker`` (running, one attempt more), its parts planned if it has none
    yet (the open assessments to do, in shares of ``REEVALUATION_PART_SIZE`` by key) and its failed
    parts queued again; then, once committed, a task enqueued for each part left to take but one
    (this worker's). Running with a live worker: returned as it is, for ``worker`` to help (``None``
    if it has no parts: a worker from before parts holds it whole). A ``helper`` only ever joins a
    running one: a failed re-evaluation waits for Resume, however many helpers are queued."""
    with transaction.atomic():
        run = (RuleSetReevaluation.objects.select_for_update().select_related("ruleset", "requested_by")
               .filter(pk=reevaluation_id).first())
        if run is None or run.status == run.Status.FINISHED:
            return None
        now = timezone.now()
        parts = RuleSetReevaluationPart.objects.filter(reevaluation=run)
        if helper:
            return run if run.status == run.Status.RUNNING and parts.exists() else None
        if run.status == run.Status.RUNNING and not run.stalled(now, settings.REEVALUATION_STALLED_AFTER):
            return run if parts.exists() else None
        run.status, run.worker, run.error, run.finished_at = run.Status.RUNNING, worker, "", None
        run.attempts += 1
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        if not parts.exists():
            run.total = run.done + _parts_plan(run)  # done: by a run from before parts, if any
        parts.filter(status=RuleSetReevaluationPart.Status.FAILED).update(
            status=RuleSetReevaluationPart.Status.QUEUED, enqueued_at=now, error="")
        run.save(update_fields=["status", "worker", "error", "finished_at", "attempts", "started_at", "heartbeat_at",
                                "total"])
        helpers = _claimable(parts, now).count() - 1
        if helpers > 0:
            transaction.on_commit(lambda: _helpers_enqueue(run.pk, helpers), robust=True)
    return run


def _parts_plan(run: RuleSetReevaluation) -> int:
    """Create ``run``'s parts: the open assessments it has to do, in order of their keys, in shares
    of ``REEVALUATION_PART_SIZE`` (at most :data:`MAX_PARTS` of them; the last one open-ended);
    returns how many there are."""
    pks = list(_to_reevaluate(run.ruleset).values_list("pk", flat=True))
    size = max(settings.REEVALUATION_PART_SIZE, -(-len(pks) // MAX_PARTS), 1)
    bounds = [(index + 1, pks[start - 1] if start else 0,
               # The last part is open-ended: an episode that needs it later (a save begun before the
               # publish, committed after this planning) is done by it or by a resume.
               pks[start + size - 1] if start + size < len(pks) else LAST_KEY,
               min(size, len(pks) - start)) for index, start in enumerate(range(0, len(pks), size))]
    RuleSetReevaluationPart.objects.bulk_create([
        RuleSetReevaluationPart(reevaluation=run, number=number, cursor=after, last=last, total=total,
                                requested_by_id=run.requested_by_id)
        for number, after, last, total in bounds])
    return len(pks)


def _helpers_enqueue(reevaluation_id: int, count: int) -> None:
    from .tasks import reevaluate_after_publish  # the task module imports this one

    for _ in range(count):
        reevaluate_after_publish.enqueue(reevaluation_id=reevaluation_id, helper=True)


def _claimable(parts, now):
    """Of ``parts``, those no live worker holds: queued, or running without a batch reported within
    ``REEVALUATION_STALLED_AFTER``."""
    Status = RuleSetReevaluationPart.Status  # noqa: N806 (a class)
    stalled_before = now - settings.REEVALUATION_STALLED_AFTER
    return parts.filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=stalled_before)
                        | Q(status=Status.RUNNING, heartbeat_at__isnull=True))


def _part_claim(run: RuleSetReevaluation, worker: str) -> RuleSetReevaluationPart | None:
    """Take ``run``'s first part that no live worker holds (:func:`_claimable`), under its row lock,
    while the re-evaluation is running (none of a failed one); a part locked by another worker's
    claim at this moment is skipped, not waited for. The claim counts as the record's heartbeat."""
    Status = RuleSetReevaluationPart.Status  # noqa: N806 (a class)
    with transaction.atomic():
        now = timezone.now()
        record = RuleSetReevaluation.objects.filter(pk=run.pk, status=RuleSetReevaluation.Status.RUNNING)
        part = (_claimable(RuleSetReevaluationPart.objects.select_for_update(skip_locked=True)
                           .filter(reevaluation=run), now).order_by("number").first())
        if part is None or not record.update(heartbeat_at=now):
            return None
        part.status, part.worker, part.error = Status.RUNNING, worker, ""
        part.attempts += 1
        part.started_at = part.started_at or now
        part.heartbeat_at = now
        part.save(update_fields=["status", "worker", "error", "attempts", "started_at", "heartbeat_at"])
    return part


def _part_run(run: RuleSetReevaluation, part: RuleSetReevaluationPart, engine: Engine, engines: dict[int, Engine],
              by, batch_size: int | None) -> None:
    """Re-evaluate ``part`` from its cursor, batch by batch (see :func:`reevaluation_run`)."""
    ruleset, held = run.ruleset, lease_held(part)
    record = RuleSetReevaluation.objects.filter(pk=run.pk)
    pks = list(_to_reevaluate(ruleset).filter(pk__gt=part.cursor, pk__lte=part.last).values_list("pk", flat=True))
    # Planned but no longer to do (saved, under the new version, since the parts were planned):
    # done, and counted as saved meanwhile, so that done reaches the total.
    gone = max(0, (part.total or 0) - part.done - len(pks))
    if gone:
        with transaction.atomic():
            lease_renew(held)
            held.update(done=F("done") + gone)
            record.update(done=F("done") + gone, changed_meanwhile=F("changed_meanwhile") + gone,
                          heartbeat_at=timezone.now())
    start, size = 0, batch_size or BATCH_SIZE
    with _commits_without_waiting_for_the_disk():
        while start < len(pks):
            batch, outcome = pks[start:start + size], Reevaluation()
            start += len(batch)
            plans = batch_plans(ruleset, batch, engine, engines, by)
            began = time.perf_counter()
            with transaction.atomic():
                lease_renew(held)  # locks the part: it is this worker's
                # The new evaluations first, before the rows' locks (on SQLite every save waits for
                # the whole transaction anyway: its lock time counts from the start).
                lifecycle.evaluations_insert([plan.replacement for plan in plans.values() if plan.replacement])
                locked_at = began if connection.vendor == "sqlite" else time.perf_counter()
                _reevaluate_batch(batch, engine, engines, ruleset, by, outcome, plans, inserted=True)
                held.update(cursor=batch[-1], done=F("done") + len(batch))
                # Last, so that the record's row is locked only while the batch commits.
                record.update(done=F("done") + len(batch), heartbeat_at=timezone.now(),
                              reevaluated=F("reevaluated") + outcome.reevaluated,
                              review_requested=F("review_requested") + outcome.review_requested,
                              unevaluable=F("unevaluable") + outcome.unevaluable,
                              unchanged_signed=F("unchanged_signed") + outcome.unchanged_signed,
                              changed_meanwhile=F("changed_meanwhile") + outcome.changed_meanwhile)
            if batch_size is None:
                size = next_batch_size(size, time.perf_counter() - locked_at)
    lease_finish(held)


def _reevaluation_finish(run: RuleSetReevaluation) -> RuleSetReevaluation | None:
    """Once every part of ``run`` is finished: the record finished (under its row lock, so that
    two workers finishing the last parts at once record it once). The record as it is then, or
    ``None`` while a part is left."""
    with transaction.atomic():
        record = RuleSetReevaluation.objects.select_for_update().filter(pk=run.pk).first()
        if record is None:
            return None
        if record.status != record.Status.FINISHED:
            parts = RuleSetReevaluationPart.objects.filter(reevaluation=run)
            if parts.exclude(status=RuleSetReevaluationPart.Status.FINISHED).exists() or (
                    not parts.exists() and record.done != record.total):  # no parts: only an empty run
                return None
            record.status, record.finished_at, record.error = record.Status.FINISHED, timezone.now(), ""
            record.save(update_fields=["status", "finished_at", "error"])
    return record


@contextmanager
def _commits_without_waiting_for_the_disk():
    """PostgreSQL: the run's transactions commit without waiting for their WAL to reach the disk
    (``synchronous_commit`` off for this connection until the run ends; the server flushes it a
    few milliseconds later). Only a crash of the database server within that moment can lose a
    batch, and then wholly, with its progress (one transaction): as if the batch had not been
    done, and the resumed re-evaluation does it. Never corruption, and every other connection's
    transaction (a coordinator's save) still waits for its own flush, which also flushes the
    batches committed before it. SQLite already commits so (``synchronous=NORMAL`` with
    write-ahead logging, in the settings)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")  # the worker's next task commits as usual
        except DatabaseError:  # the connection is lost (the error being raised says why): nothing to reset
            pass


def lock_target_seconds() -> float:
    """How long a batch should hold its locks on this database (see :data:`BATCH_SIZE`)."""
    return LOCK_TARGET_SECONDS * (1 if connection.vendor == "sqlite" else 1.5)


def next_batch_size(size: int, locked_seconds: float) -> int:
    """The next batch's size: halved when this one held its locks longer than the target, a half
    larger when it held them less than half of it (within :data:`BATCH_SIZES`)."""
    smallest, largest = BATCH_SIZES
    target = lock_target_seconds()
    if locked_seconds > target:
        return max(smallest, size // 2)
    if locked_seconds < target / 2:
        return min(largest, size + max(1, size // 2))
    return size


def _published_engines() -> dict[int, Engine]:
    """The engine of every published version by primary key. The previous results are computed again
    by their own (immutable, cached) versions rather than read back: decoding thousands of stored
    checklists costs more than evaluating them."""
    return {version.pk: engine_for(version) for version in RuleSet.objects.exclude(status=RuleSet.Status.DRAFT)}


def reevaluate_assessment(*, assessment_id: int, by) -> Reevaluation:
    """One assessment under the active version, as a publish does (e.g. a patient restored after
    versions were published while it was withdrawn): nothing happens if it is under it already."""
    ruleset = ruleset_get()
    outcome = Reevaluation()
    with transaction.atomic():
        _reevaluate_batch([assessment_id], engine_for(ruleset), _published_engines(), ruleset, by, outcome)
    return outcome


def _to_reevaluate(ruleset: RuleSet):
    """Open assessments whose current checklist is not under ``ruleset`` and that this version has
    not asked a physician about yet."""
    asked = ReviewRequest.objects.open().filter(assessment=OuterRef("pk"), ruleset=ruleset)
    return (open_assessments().filter(current_evaluation__isnull=False).exclude(current_evaluation__ruleset=ruleset)
            .exclude(Exists(asked)).order_by("pk"))


class _Open(NamedTuple):
    pk: int
    stage: str
    data: dict
    public_id: object
    previous_id: int  # the current evaluation (rows without one are not selected)
    previous_ruleset_id: int
    previous_overall: str
    signed: bool

    @property
    def state(self) -> tuple[int, int, bool]:
        """What a plan made from this row depends on: a save makes a new current evaluation, and
        a signature given or voided changes ``signed``."""
        return self.pk, self.previous_id, self.signed


class _Plan(NamedTuple):
    """What re-evaluating one row comes to: a new evaluation, a review request, or nothing (a
    signed checklist the version leaves as it was)."""

    replacement: lifecycle.Replacement | None = None
    request: ReviewRequest | None = None
    unevaluable: bool = False


def _to_reevaluate_columns(ruleset: RuleSet, pks: list[int], columns: tuple[str, ...]) -> list[tuple]:
    """``columns`` of the rows of ``pks`` still to re-evaluate under ``ruleset`` (``signed``: a
    standing signature on the current checklist), as plain tuples in that order; the query built
    once per connection, version and columns (:func:`~eligibility.common.compiled.rows_among`)."""
    names, found = compiled.rows_among(
        ("reevaluation", ruleset.pk, columns), lambda keys: _to_reevaluate(ruleset).filter(pk__among=keys).annotate(
            signed=Exists(standing_on_current_checklist())).values_list(*columns), pks)
    if tuple(names) != columns:
        raise RuntimeError(f"re-evaluation rows: columns {names}, not {columns}")
    return found


def _rows(ruleset: RuleSet, pks: list[int]) -> list[_Open]:
    """The rows of ``pks`` still to re-evaluate under ``ruleset``, as plain tuples (three model
    instances a row cost more than evaluating)."""
    return [_Open(*row) for row in _to_reevaluate_columns(ruleset, pks, _OPEN_COLUMNS)]


#: The columns of :class:`_Open`, as the ORM names them.
_OPEN_COLUMNS = ("pk", "stage", "data", "patient__public_id", "current_evaluation_id",
                 "current_evaluation__ruleset_id", "current_evaluation__overall", "signed")


def batch_plans(ruleset: RuleSet, pks: list[int], engine: Engine, engines: dict[int, Engine], by) -> dict[tuple, _Plan]:
    """The plan of every row of ``pks``, computed WITHOUT the rows' locks (so that saves never wait
    for the evaluating, only for the writing), keyed by the row's state it depends on. Public: the
    runs call it through the module, so a test can put a save between a batch's planning and its
    transaction."""
    today = timezone.localdate()  # the batch's date (the time zone's lookup costs more than a row's parse)
    return {row.state: _plan(row, engine, engines, ruleset, by, today) for row in _rows(ruleset, pks)}


def _plan(assessment: _Open, engine: Engine, engines: dict[int, Engine], ruleset: RuleSet, by,
          today: datetime.date) -> _Plan:
    # Stored data was validated when saved: encoded once, read by both versions' engines.
    raw = dumps({**assessment.data, "stage": assessment.stage, "case_id": str(assessment.public_id)})
    try:
        case = engine.parse_json(raw, today)
    except CaseValidationError as exc:
        problems = "; ".join(input_error_text(error) for error in exc.errors)
        return _Plan(unevaluable=True, request=ReviewRequest(
            assessment_id=assessment.pk, ruleset=ruleset, evaluation_id=assessment.previous_id,
            message=f"Rule set version {ruleset.version} cannot evaluate this assessment ({problems}): "
                    "the checklist stays under its version until the data are corrected."))
    checklist = engine.evaluate(case)
    previous_engine = engines[assessment.previous_ruleset_id]
    # Versions of one catalogue decode the same JSON to the same case (on the same date): decoded once.
    previous_case = (case if previous_engine.case_type is engine.case_type
                     else previous_engine.parse_json(raw, case.evaluation_date))
    old_items = previous_engine.evaluate(previous_case).items
    changes = checklist_changes(old_items, checklist.items)
    if assessment.signed:
        # The result, not the wording: a status or the overall result would change (a reason that
        # only quotes the new threshold leaves what was signed as it was).
        if any(change["before"] != change["after"] for change in changes) or (
                assessment.previous_overall != checklist.overall):
            return _Plan(request=ReviewRequest(
                assessment_id=assessment.pk, ruleset=ruleset, evaluation_id=assessment.previous_id,
                message=f"Rule set version {ruleset.version} would change this signed checklist "
                        f"({OVERALL_LABELS[assessment.previous_overall].lower()} → "
                        f"{OVERALL_LABELS[checklist.overall].lower()}; "
                        + "; ".join(f"{change['title']}: {item_status_text(change['before']).lower()} → "
                                    f"{item_status_text(change['after']).lower()}"
                                    if change["before"] != change["after"] else f"{change['title']}: reason"
                                    for change in changes)
                        + "): keep the signed checklist, or re-evaluate it under the new version and sign again."))
        return _Plan()
    evaluation = evaluation_build_encoded(
        assessment_id=assessment.pk, ruleset=ruleset, case=case, checklist=checklist, by=by,
        reevaluated_from_id=assessment.previous_id, changes=changes)
    return _Plan(replacement=lifecycle.Replacement(
        assessment_id=assessment.pk, previous_id=assessment.previous_id, evaluation=evaluation,
        void_reason=f"Re-evaluated under rule-set version {ruleset.version}.",
        request_note=f"Rule set version {ruleset.version} published.",
        params=lifecycle.evaluation_params(evaluation)))


def _states(ruleset: RuleSet, pks: list[int]) -> list[tuple[int, int, bool]]:
    """The state plans depend on (:attr:`_Open.state`) of the rows of ``pks`` still to re-evaluate
    (read under the batch's locks: the query is built once, compiling it costs milliseconds)."""
    return [(pk, evaluation_id, bool(signed)) for pk, evaluation_id, signed in
            _to_reevaluate_columns(ruleset, pks, ("pk", "current_evaluation_id", "signed"))]


def _reevaluate_batch(pks: list[int], engine: Engine, engines: dict[int, Engine], ruleset: RuleSet, by,
                      outcome: Reevaluation, plans: dict[tuple, _Plan] | None = None, *,
                      inserted: bool = False) -> None:
    """One batch, in the caller's transaction (which the row locks taken here last). ``plans``:
    made beforehand by :func:`batch_plans`, used for each row whose state is still the one planned for;
    a row saved (or signed) since is planned again here, under the lock. ``inserted``: the plans' new evaluations
    were inserted by the caller in this transaction (those not used here are discarded)."""
    lifecycle.assessments_lock(pks)
    # Read again under the lock: what was committed meanwhile is what is written. Only the state
    # that plans depend on, and the whole row of those that changed since they were planned.
    plans = plans or {}
    states = _states(ruleset, pks)
    outcome.changed_meanwhile += len(pks) - len(states)
    changed = [pk for pk, *state in states if (pk, *state) not in plans]
    unplanned = {row.state: row for row in _rows(ruleset, changed)} if changed else {}
    replacements, requests, new = [], [], []
    today = timezone.localdate()
    for state in states:
        planned = plans.get(state)
        plan = planned or _plan(unplanned[state], engine, engines, ruleset, by, today)
        if plan.replacement is not None:
            replacements.append(plan.replacement)
            if planned is None or not inserted:
                new.append(plan.replacement)
        elif plan.request is not None:
            requests.append(plan.request)
            if plan.unevaluable:
                outcome.unevaluable += 1
            else:
                outcome.review_requested += 1
        else:
            outcome.unchanged_signed += 1
    if inserted:  # those of rows saved (or signed) since they were planned: never current, never seen
        used = {id(replacement) for replacement in replacements}
        lifecycle.evaluations_discard([plan.replacement.evaluation.pk for plan in plans.values()
                                       if plan.replacement is not None and id(plan.replacement) not in used])
    lifecycle.evaluations_insert(new)
    lifecycle.evaluations_install(replacements, by=by, inserted=True)
    # A new version's request replaces an earlier version's open one.
    if requests:
        asked = [request.assessment_id for request in requests]
        ReviewRequest.objects.open().filter(assessment_id__among=asked).update(
            resolution=ReviewRequest.Resolution.SUPERSEDED, resolved_at=timezone.now(), resolved_by=by,
            resolved_by_name=display_name(by), justification=f"Rule set version {ruleset.version} published.")
        ReviewRequest.objects.bulk_create(requests)
    outcome.reevaluated += len(replacements)
