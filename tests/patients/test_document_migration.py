"""Migration 0034: an evaluation's inputs and checklist become ``json`` columns on PostgreSQL; the
evaluations already stored read back exactly as before, the rewritten checklists are compressed
with LZ4 (where the server has it), and the migration undoes itself. SQLite: nothing changes.

Run on the real schema: migrated back to 0033, patients written, migrated forward again."""

from __future__ import annotations

import pytest
from django.db import connection

from eligibility.models import Evaluation
from tests.conftest import migrate_to, migrate_to_latest
from tests.factories import PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("migration_data_then_latest_schema")]


def _columns() -> dict:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                           "'eligibility_evaluation'::regclass AND attname IN ('checklist', 'inputs')")
        else:
            cursor.execute("SELECT name, lower(type) FROM pragma_table_info('eligibility_evaluation') "
                           "WHERE name IN ('checklist', 'inputs')")
        return dict(cursor.fetchall())


def _stored() -> dict:
    return {row["pk"]: (row["checklist"], row["inputs"]) for row in
            Evaluation.objects.order_by("pk").values("pk", "checklist", "inputs")}


def test_the_stored_evaluations_read_back_the_same_through_the_migration_and_back():
    migrate_to([("eligibility", "0033_worklist_counts_sqlite")])
    jsonb, text = {"checklist": "jsonb", "inputs": "jsonb"}, {"checklist": "text", "inputs": "text"}
    assert _columns() == (jsonb if connection.vendor == "postgresql" else text)
    coordinator = UserFactory(role="Coordinator")
    for number in range(2):
        PatientFactory(by=coordinator, study_id=f"DOC-{number}")
    before = _stored()
    assert len(before) == 2 and all(len(checklist["items"]) == 26 for checklist, _ in before.values())

    migrate_to_latest()
    assert _columns() == ({"checklist": "json", "inputs": "json"} if connection.vendor == "postgresql" else text)
    assert _stored() == before
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            lz4 = cursor.fetchone()[0]
            cursor.execute("SELECT DISTINCT pg_column_compression(checklist) FROM eligibility_evaluation")
            # the rows the migration rewrote, not only those written after it
            assert cursor.fetchall() == [("lz4" if lz4 else "pglz",)]

    migrate_to([("eligibility", "0033_worklist_counts_sqlite")])
    assert _columns() == (jsonb if connection.vendor == "postgresql" else text)
    assert _stored() == before
