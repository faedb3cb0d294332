"""The lease of background work over the open assessments (:class:`.models.BackgroundRun`): the
re-evaluation after a publish and the impact preview of a draft both run under it.

A worker claims the record under its row lock (:func:`lease_claim`); every batch then renews the
lease in the batch's own transaction (:func:`lease_renew`, which also takes the record's row lock
on PostgreSQL and the write lock on SQLite): a batch either commits with its progress or not at
all, and a worker whose lease was taken over (:class:`LeaseLost`) commits nothing more. A run
stopped by an error, or a worker told to stop, is marked failed (:func:`lease_stopped`), which the
page offers to resume."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import BackgroundRun


class LeaseLost(Exception):
    """Another worker took the work over (this one was thought dead), or its record is gone: stop,
    rolling back."""


def lease_claim(queryset: QuerySet, *, pk: int, worker: str, stalled_after) -> BackgroundRun | None:
    """Take the lease of the record ``pk`` of ``queryset`` for ``worker``, under its row lock;
    ``None`` when it is finished, gone, or held by a worker that reported a batch within
    ``stalled_after`` (a timedelta)."""
    with transaction.atomic():
        run = queryset.select_for_update().filter(pk=pk).first()
        now = timezone.now()
        if run is None or run.status == run.Status.FINISHED or (
                run.status == run.Status.RUNNING and run.worker != worker and not run.stalled(now, stalled_after)):
            return None
        run.status, run.worker, run.error = run.Status.RUNNING, worker, ""
        run.attempts += 1
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.save(update_fields=["status", "worker", "error", "attempts", "started_at", "heartbeat_at"])
    return run


def lease_held(run: BackgroundRun) -> QuerySet:
    """The record while ``run``'s worker holds its lease (empty once it lost it): every write of
    the work's progress goes through it."""
    return type(run).objects.filter(pk=run.pk, worker=run.worker, status=run.Status.RUNNING)


def lease_renew(held: QuerySet) -> None:
    """At the start of a batch's transaction: renew the lease (the record's row lock is held until
    the batch commits), or raise :class:`LeaseLost`."""
    if not held.update(heartbeat_at=timezone.now()):
        raise LeaseLost


def lease_finish(held: QuerySet, **fields) -> None:
    """The work is done: record it finished (with ``fields``), or raise :class:`LeaseLost`."""
    if not held.update(status=BackgroundRun.Status.FINISHED, finished_at=timezone.now(), **fields):
        raise LeaseLost


def lease_stopped(run: BackgroundRun, exc: BaseException) -> int:
    """Record ``run`` failed by ``exc`` (also a worker told to stop within the task: what it did
    stands, the rest is resumable at once). The error's class only: a database error's message can
    quote row values. Returns 1, or 0 if ``run``'s worker no longer held it (taken over)."""
    return type(run).objects.filter(pk=run.pk, worker=run.worker).update(
        status=BackgroundRun.Status.FAILED, finished_at=timezone.now(), error=stopped_by(exc))


def stopped_by(exc: BaseException) -> str:
    """What a stopped run records (and logs) of ``exc``: its class only (a database error's message
    can quote row values), or that the worker was told to stop."""
    return "the task worker was stopped" if isinstance(exc, SystemExit | KeyboardInterrupt) else type(exc).__name__
