"""The lifecycle of a checklist, in one place.

Three paths give an assessment a new current evaluation: a coordinator's save, the bulk
re-evaluation after a rule-set version is published, and a physician's re-evaluation at a review
request. All three lock the assessments' rows with :func:`assessments_lock` and then hand the new
evaluations to :func:`evaluations_install`, which sets them current and announces it
(:data:`.signals.evaluations_replaced`): the review package, in the same transaction, voids the
standing signature where the checklist it signed is replaced, closes the open review requests and
carries decisions on unchanged findings over. The sign-off and the decisions take the same row
lock, so a signature is only ever made on the evaluation that is current when it commits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import AutoField
from django.utils import timezone

from ..common.jsoncodec import EncodedJSON
from .models import Assessment, Evaluation
from .signals import evaluations_replaced


def assessments_lock(pks) -> None:
    """Lock the assessments' rows until the transaction ends (PostgreSQL: ``FOR UPDATE``; SQLite
    serialises writers itself: every transaction begins ``IMMEDIATE``). Rows are locked in primary
    key order, so two batches never wait for each other in a circle.

    Must run inside ``transaction.atomic``; whatever the caller reads afterwards is what was
    committed before the lock was granted.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("assessments_lock needs a transaction (transaction.atomic).")
    list(Assessment.objects.select_for_update().filter(pk__among=list(pks)).order_by("pk").values_list("pk", flat=True))


def assessment_locked(pk: int) -> Assessment:
    """One assessment, locked, as committed (with its patient)."""
    assessments_lock([pk])
    return Assessment.objects.select_related("patient", "current_evaluation").get(pk=pk)


@dataclass
class Replacement:
    """A new (unsaved) evaluation that replaces an assessment's current one."""

    assessment_id: int
    previous_id: int | None
    evaluation: Evaluation
    #: Why a standing signature on the replaced checklist is voided (every replacement voids it:
    #: a signature never moves to a checklist it did not sign).
    void_reason: str
    #: Why open review requests of the assessment are closed (superseded) by this replacement.
    request_note: str
    #: The evaluation's INSERT parameters, prepared beforehand (:func:`evaluation_params`) so that
    #: the transaction holding the locks only runs the statement; ``None``: prepared at install.
    params: list[Any] | None = None


@functools.cache
def _insert_fields() -> tuple:
    return tuple(field for field in Evaluation._meta.concrete_fields if not isinstance(field, AutoField))


def evaluation_params(evaluation: Evaluation) -> list[Any]:
    """The INSERT parameters of an unsaved ``evaluation``, as Django's own insert prepares them
    (``get_db_prep_save`` of each field), ``created_at`` left to :func:`evaluations_install`. A JSON
    value held encoded (:class:`~eligibility.common.jsoncodec.EncodedJSON`) is its JSON text, as the
    field's encoder writes it: not wrapped for the driver to call the encoder again at the insert."""
    database = connections[DEFAULT_DB_ALIAS]  # once, not through the proxy for every field
    params = []
    for field in _insert_fields():
        value = getattr(evaluation, field.attname)
        if field.name == "created_at":
            params.append(None)
        elif isinstance(value, EncodedJSON):
            params.append(value.encoded.decode())
        else:
            params.append(field.get_db_prep_save(value, database))
    return params


def evaluations_insert(replacements: list[Replacement]) -> None:
    """Insert the replacements' evaluations with the parameters prepared for them (Django's
    ``bulk_create`` prepares every field of every row anew: most of a re-evaluation batch's time
    under its locks): by ``COPY`` on PostgreSQL, multi-row ``INSERT ... RETURNING`` statements on
    SQLite. One creation time for all.

    :func:`evaluations_install` does it; the re-evaluation after a publish does it itself first,
    before it locks the assessments (the inserts are most of a batch's writing, and an evaluation
    not yet current locks nothing anyone saving waits for), then installs with ``inserted=True``
    and discards (:func:`evaluations_discard`) those of rows saved meanwhile: uncommitted, no one
    ever saw them."""
    if not replacements:
        return
    fields = _insert_fields()
    created_at = next(index for index, field in enumerate(fields) if field.name == "created_at")
    now = timezone.now()
    created_param = fields[created_at].get_db_prep_save(now, connection)
    rows = []
    for replacement in replacements:
        evaluation = replacement.evaluation
        evaluation.created_at = now
        params = replacement.params if replacement.params is not None else evaluation_params(evaluation)
        params = list(params)
        params[created_at] = created_param
        rows.append(params)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    table, pk = quote(Evaluation._meta.db_table), quote(Evaluation._meta.pk.column)
    if connection.vendor == "postgresql":
        keys = _copy_in(table, pk, columns, rows)
    else:
        keys = _values_in(table, pk, columns, rows)
    for replacement, key in zip(replacements, keys, strict=True):
        replacement.evaluation.pk = key
        replacement.evaluation._state.adding = False
        replacement.evaluation._state.db = connection.alias


def _copy_in(table: str, pk: str, columns: str, rows: list[list]) -> list[int]:
    """PostgreSQL: the rows by ``COPY`` (no statement parsed, planned and run per row, no parameter
    placeholders to split: psycopg splits a multi-row VALUES statement's 8,500 of them again for
    every statement, 16 ms each), with primary keys taken from the table's sequence first."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [Evaluation._meta.db_table, Evaluation._meta.pk.column, len(rows)])
        keys = [key for (key,) in cursor.fetchall()]
        with cursor.copy(f"COPY {table} ({pk}, {columns}) FROM STDIN") as copy:
            for key, row in zip(keys, rows, strict=True):
                copy.write_row([key, *row])
    return keys


def _values_in(table: str, pk: str, columns: str, rows: list[list]) -> list[int]:
    """SQLite: multi-row ``INSERT ... RETURNING`` statements (the keys in the order of the rows, as
    Django's bulk_create relies on too)."""
    width = len(rows[0])
    one = "(" + ", ".join(["%s"] * width) + ")"
    per_statement = max(1, min(500, (connection.features.max_query_params or 65535) // width))
    keys = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608
                           f"RETURNING {pk}", [value for row in chunk for value in row])
            keys.extend(key for (key,) in cursor.fetchall())
    return keys


def evaluations_discard(pks: list[int]) -> None:
    """Delete evaluations inserted in this transaction by :func:`evaluations_insert` and never made
    current (their assessment was saved meanwhile): nothing refers to them, and no one saw them."""
    if pks:
        Evaluation.objects.filter(pk__among=pks).delete()


def evaluations_install(replacements: list[Replacement], *, by, inserted: bool = False) -> list[Evaluation]:
    """Save the new evaluations (``inserted``: the caller did, by :func:`evaluations_insert`, in this
    transaction) and make each its assessment's current one, then announce it
    (:data:`.signals.evaluations_replaced`: signatures voided, review requests closed, decisions on
    unchanged findings carried over by the review package).

    The caller holds the assessments' row locks (:func:`assessments_lock`) in this transaction.
    """
    if not replacements:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("evaluations_install needs the assessments locked in a transaction.")
    if not inserted:
        evaluations_insert(replacements)
    # PostgreSQL: one statement joining the pairs as arrays (0.12 ms a row at 100,000 open
    # assessments, where a statement per row cost 0.27 ms). SQLite: one prepared statement run for
    # every row; bulk_update's CASE WHEN and a correlated subquery both cost far more there
    # (0.2-0.7 ms a row).
    table = connection.ops.quote_name(Assessment._meta.db_table)
    column = connection.ops.quote_name(Assessment._meta.get_field("current_evaluation").column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET {column} = new.evaluation FROM (SELECT unnest(%s::bigint[]) AS assessment, "  # noqa: S608
                f"unnest(%s::bigint[]) AS evaluation) AS new WHERE {table}.id = new.assessment",
                [[replacement.assessment_id for replacement in replacements],
                 [replacement.evaluation.pk for replacement in replacements]])
        else:
            cursor.executemany(
                f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608 (names from the model, values bound)
                [(replacement.evaluation.pk, replacement.assessment_id) for replacement in replacements],
            )
    evaluations_replaced.send(sender=Evaluation, replacements=replacements, by=by)
    return [replacement.evaluation for replacement in replacements]


def install_one(*, assessment: Assessment, evaluation: Evaluation, void_reason: str, request_note: str,
                by) -> Evaluation:
    """:func:`evaluations_install` for one assessment (locked by the caller)."""
    evaluations_install([Replacement(assessment_id=assessment.pk, previous_id=assessment.current_evaluation_id,
                                     evaluation=evaluation, void_reason=void_reason, request_note=request_note)],
                        by=by)
    assessment.current_evaluation = evaluation
    return evaluation


__all__ = ["Replacement", "assessment_locked", "assessments_lock", "evaluation_params", "evaluations_discard",
           "evaluations_insert", "evaluations_install",
           "install_one"]
