"""What makes the re-evaluation after a publish fast must not change what it stores or how it
commits: the evaluations written from prepared INSERT parameters hold exactly what the former path
(Django's bulk_create of ``evaluation_build``'s rows) stored, a batch's statements do not grow with
its rows, and on PostgreSQL only the run's own transactions commit without waiting for the disk.

Transactional: the run's batches really commit.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eligibility.common.jsoncodec import EncodedJSON
from eligibility.models import Assessment, Evaluation, RuleSetReevaluation
from eligibility.patients import services
from eligibility.patients.services import checklist_changes, evaluation_build
from eligibility.patients.signals import evaluations_replaced
from eligibility.review import reevaluation
from eligibility.rulesets import services as rulesets
from eligibility.rulesets.selectors import engine_for
from tests.conftest import replay_data_migrations
from tests.factories import PatientFactory
from tests.rulesets.test_services import CLEAN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


def publish(administrator, alc: str):
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal(alc)}, by=administrator)
    return rulesets.ruleset_publish(draft=draft, note="test", by=administrator)


def run(published, administrator, batch_size=None):
    record = RuleSetReevaluation.objects.get(ruleset=published)
    return reevaluation.reevaluation_run(reevaluation_id=record.pk, worker="test", by=administrator,
                                         batch_size=batch_size)


def test_a_reevaluated_checklist_is_stored_as_the_former_path_stored_it(administrator, coordinator):
    for n in range(2):
        PatientFactory(by=coordinator, study_id=f"OPEN-{n}")
    low_alc = PatientFactory(by=coordinator, study_id="LOW-ALC")  # flagged; a lower minimum passes it
    data = {key: value for key, value in CLEAN.items() if key not in ("case_id", "stage")}
    services.assessment_update(assessment=low_alc.assessment, stage="pre_apheresis", by=coordinator,
                               changes={**data, "alc": {"value": 150, "unit": "cells/uL"}},
                               revision=low_alc.assessment.revision)
    previous = {assessment.pk: assessment.current_evaluation for assessment in
                Assessment.objects.select_related("current_evaluation__ruleset", "patient")}
    published = publish(administrator, "0.1")
    assert run(published, administrator).reevaluated == 3

    engine = engine_for(published)
    for assessment in Assessment.objects.select_related("current_evaluation", "patient"):
        stored, before = assessment.current_evaluation, previous[assessment.pk]
        case = engine.parse({**assessment.data, "stage": assessment.stage,
                             "case_id": str(assessment.patient.public_id)}, timezone.localdate())
        checklist = engine.evaluate(case)
        old_engine = engine_for(before.ruleset)
        expected = evaluation_build(
            assessment_id=assessment.pk, ruleset=published, case=case, checklist=checklist, by=administrator,
            reevaluated_from_id=before.pk,
            changes=checklist_changes(old_engine.evaluate(old_engine.parse_json(orjson.dumps(
                {**assessment.data, "stage": assessment.stage, "case_id": str(assessment.patient.public_id)}),
                case.evaluation_date)).items, checklist.items))
        if assessment.patient_id == low_alc.pk:
            assert [change["code"] for change in stored.changes] == ["alc"]  # said item by item
        for field in ("stage", "overall", "flag_count", "missing_count", "defer_count", "exclude_count",
                      "as_of", "reevaluated_from_id", "ruleset_id", "created_by_id", "assessment_id"):
            assert getattr(stored, field) == getattr(expected, field), field
        # The JSON values as the former path wrote them (read back through the same decoder).
        for field in ("inputs", "checklist", "changes"):
            assert getattr(stored, field) == orjson.loads(orjson.dumps(getattr(expected, field))), field
        # Byte for byte, on both databases (PostgreSQL's json column keeps the text as written).
        with connection.cursor() as cursor:
            cursor.execute("SELECT inputs, checklist FROM eligibility_evaluation WHERE id = %s", [stored.pk])
            inputs, items = cursor.fetchone()
        assert inputs.encode() == orjson.dumps(expected.inputs)
        assert items.encode() == orjson.dumps(expected.checklist)
        assert stored.created_at >= before.created_at and stored.public_id != before.public_id
        # Stored as JSON objects the database reads (not as JSON strings holding them).
        typeof = "json_typeof" if connection.vendor == "postgresql" else "json_type"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {typeof}(inputs), {typeof}(checklist) FROM eligibility_evaluation WHERE id = %s",  # noqa: S608 (a function name chosen above)
                           [stored.pk])
            assert cursor.fetchone() == ("object", "object")


def test_the_receivers_read_the_new_checklist_held_as_json(administrator, coordinator):
    PatientFactory(by=coordinator, study_id="OPEN-1")
    seen = []

    def receiver(sender, replacements, by, **kwargs):
        for replacement in replacements:
            checklist = replacement.evaluation.checklist
            seen.append((isinstance(checklist, EncodedJSON), replacement.evaluation.pk, len(checklist["items"])))

    evaluations_replaced.connect(receiver, weak=False)
    try:
        run(publish(administrator, "0.1"), administrator)
    finally:
        evaluations_replaced.disconnect(receiver)
    [(encoded, pk, items)] = seen
    assert encoded and items == len(Evaluation.objects.get(pk=pk).checklist["items"]) > 0


def test_a_batch_runs_as_many_statements_for_twelve_rows_as_for_three(administrator, coordinator):
    """Flat in N: no statement per row (a batch of 3 and one of 12, each one batch)."""
    for n in range(3):
        PatientFactory(by=coordinator, study_id=f"FIRST-{n}")
    first = publish(administrator, "0.1")
    with CaptureQueriesContext(connection) as three:
        assert run(first, administrator, batch_size=50).reevaluated == 3
    for n in range(9):
        PatientFactory(by=coordinator, study_id=f"THEN-{n}")
    second = publish(administrator, "0.2")
    with CaptureQueriesContext(connection) as twelve:
        assert run(second, administrator, batch_size=50).reevaluated == 12
    assert len(twelve.captured_queries) == len(three.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's synchronous_commit (runs in CI)")
def test_only_the_runs_own_transactions_commit_without_waiting_for_the_disk(administrator, coordinator):
    PatientFactory(by=coordinator, study_id="OPEN-1")
    seen = []

    def show(sender, replacements, by, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])

    evaluations_replaced.connect(show, weak=False)
    try:
        run(publish(administrator, "0.1"), administrator)
    finally:
        evaluations_replaced.disconnect(show)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        after = cursor.fetchone()[0]
    assert (seen, after) == (["off"], "on")  # in the batch; the connection's next work commits as usual


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's column compression (runs in CI)")
def test_the_checklists_a_publish_writes_are_compressed_with_lz4(administrator, coordinator):
    """Migration 0030: the large JSON columns compress with LZ4 (where the server has it, as
    Debian's does), and a re-evaluated checklist is stored so (pglz took half of each insert); a
    server built without LZ4 keeps its default (the migration did nothing there)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        lz4 = cursor.fetchone()[0]
        cursor.execute("SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute "
                       "WHERE attrelid IN ('eligibility_evaluation'::regclass, 'eligibility_assessment'::regclass) "
                       "AND attname IN ('checklist', 'inputs', 'changes', 'data')")
        methods = {(table, column): method for table, column, method in cursor.fetchall()}
    columns = [("eligibility_evaluation", "checklist"), ("eligibility_evaluation", "inputs"),
               ("eligibility_evaluation", "changes"), ("eligibility_assessment", "data")]
    assert methods == dict.fromkeys(columns, "l" if lz4 else "")
    if not lz4:
        return
    patient = PatientFactory(by=coordinator, study_id="OPEN-1")
    before = patient.assessment.current_evaluation_id
    assert run(publish(administrator, "0.1"), administrator).reevaluated == 1
    new = Assessment.objects.get(pk=patient.assessment.pk).current_evaluation_id
    assert new != before
    with connection.cursor() as cursor:  # a 9 KB checklist: compressed, out of line
        cursor.execute("SELECT pg_column_compression(checklist) FROM eligibility_evaluation WHERE id = %s", [new])
        assert cursor.fetchone()[0] == "lz4"
    # Read back through the ORM as written: the same checklist the engine produced.
    assert Evaluation.objects.get(pk=new).checklist["overall"] == Evaluation.objects.get(pk=new).overall
