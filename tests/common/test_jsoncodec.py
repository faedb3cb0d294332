"""The JSON behind the case and checklist columns: orjson, with the standard library for what
orjson refuses, so nothing the default encoder stored is lost or read differently."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext

from eligibility.common.jsoncodec import CompactJSONDecoder, CompactJSONEncoder, JSONDocumentField
from eligibility.models import Assessment, Evaluation
from tests.factories import PatientFactory

BEYOND_64_BITS = 2**80


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, "é"], "b": {"c": -0.1}},
    {"big": BEYOND_64_BITS, "negative": -(2**64)},
    {"largest 64-bit": 2**63 - 1, "smallest": -(2**63)},
    [],
])
def test_values_round_trip_exactly(value):
    text = json.dumps(value, cls=CompactJSONEncoder)
    assert json.loads(text, cls=CompactJSONDecoder) == value
    assert json.loads(text) == value  # what any other reader of the column sees


def test_what_orjson_refuses_falls_back_to_the_standard_library():
    assert json.loads("[NaN, 1e400]", cls=CompactJSONDecoder)[1] == float("inf")
    assert json.loads(str(BEYOND_64_BITS), cls=CompactJSONDecoder) == BEYOND_64_BITS
    with pytest.raises(TypeError, match="Decimal"):  # refused exactly as Django's default encoder does
        json.dumps({"dose": Decimal("1.5")}, cls=CompactJSONEncoder)
    with pytest.raises(json.JSONDecodeError):
        json.loads("{not json", cls=CompactJSONDecoder)


@pytest.mark.django_db
def test_a_stored_evaluation_reads_back_as_it_was_written():
    patient = PatientFactory()
    evaluation = patient.assessment.current_evaluation
    checklist, inputs = evaluation.checklist, evaluation.inputs
    stored = Evaluation.objects.get(pk=evaluation.pk)
    assert (stored.checklist, stored.inputs) == (checklist, inputs)
    assert len(stored.checklist["items"]) == 26

    Assessment.objects.filter(pk=patient.assessment.pk).update(data={"dose": BEYOND_64_BITS})
    assert Assessment.objects.get(pk=patient.assessment.pk).data == {"dose": BEYOND_64_BITS}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="UNNEST bulk inserts are PostgreSQL's (runs in CI)")
def test_evaluations_are_bulk_inserted_as_values_rows_not_unnest_arrays():
    # psycopg quotes each element of a text array in Python (30 s for 10,000 checklists); VALUES
    # parameters are quoted by libpq.
    first = PatientFactory().assessment.current_evaluation
    copies = [Evaluation(assessment_id=first.assessment_id, ruleset_id=first.ruleset_id, stage=first.stage,
                         inputs=first.inputs, checklist=first.checklist, overall=first.overall,
                         created_by_id=first.created_by_id) for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        Evaluation.objects.bulk_create(copies)
    [insert] = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("INSERT")]
    assert "UNNEST" not in insert.upper() and "VALUES" in insert.upper()
    assert Evaluation.objects.get(pk=copies[2].pk).checklist == first.checklist


@pytest.mark.django_db
def test_an_evaluations_documents_are_kept_as_the_text_written():
    patient = PatientFactory()
    evaluation = Evaluation.objects.get(pk=patient.assessment.current_evaluation_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT checklist, inputs FROM eligibility_evaluation WHERE id = %s", [evaluation.pk])
        checklist, inputs = cursor.fetchone()
    # Handed over as text (not decoded by the driver), exactly as the encoder wrote it.
    assert checklist == json.dumps(evaluation.checklist, cls=CompactJSONEncoder)
    assert inputs == json.dumps(evaluation.inputs, cls=CompactJSONEncoder)
    # What no 64-bit number holds comes back as it was written.
    # Written by the ORM (an update, a save, a bulk insert): the encoder's text too, not
    # reformatted by the database (on PostgreSQL, not sent as jsonb for the server to parse).
    written = {"dose": BEYOND_64_BITS, "ratio": 0.1, "b": [1, {"a": None}]}
    Evaluation.objects.filter(pk=evaluation.pk).update(inputs=written)
    evaluation.checklist = {"z": 1, "a": 2}
    evaluation.save(update_fields=["checklist"])
    copy = Evaluation.objects.bulk_create([Evaluation(
        assessment_id=evaluation.assessment_id, ruleset_id=evaluation.ruleset_id, stage=evaluation.stage,
        inputs={"y": "é"}, checklist={"items": []}, overall=evaluation.overall,
        created_by_id=evaluation.created_by_id)])[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT inputs, checklist FROM eligibility_evaluation WHERE id = %s", [evaluation.pk])
        # (beyond 64 bits the standard library writes it, with its spaces; jsonb would sort the keys)
        assert cursor.fetchone() == ('{"dose": 1208925819614629174706176, "ratio": 0.1, "b": [1, {"a": null}]}',
                                     '{"z":1,"a":2}')
        cursor.execute("SELECT inputs, checklist FROM eligibility_evaluation WHERE id = %s", [copy.pk])
        assert cursor.fetchone() == ('{"y":"é"}', '{"items":[]}')
    assert Evaluation.objects.get(pk=evaluation.pk).inputs == written


@pytest.mark.django_db
def test_the_document_columns_are_json_on_postgresql_and_text_on_sqlite():
    field = Evaluation._meta.get_field("checklist")
    assert isinstance(field, JSONDocumentField) and isinstance(Evaluation._meta.get_field("inputs"), JSONDocumentField)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT attname, format_type(atttypid, atttypmod), attcompression FROM pg_attribute "
                           "WHERE attrelid = 'eligibility_evaluation'::regclass AND attname IN ('checklist', 'inputs')")
            columns = {name: (kind, method) for name, kind, method in cursor.fetchall()}
            cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            lz4 = cursor.fetchone()[0]
            # migration 0034's rewrite resets a column's compression: set to LZ4 again where the server has it
            assert columns == dict.fromkeys(("checklist", "inputs"), ("json", "l" if lz4 else ""))
            assert field.db_type(connection) == "json"
        else:
            assert field.db_type(connection) == "text"
            cursor.execute("SELECT type FROM pragma_table_info('eligibility_evaluation') WHERE name = 'checklist'")
            assert cursor.fetchone()[0].lower() == "text"


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the json type is PostgreSQL's (runs in CI)")
def test_every_new_connection_hands_json_values_over_as_text():
    # Without it psycopg decodes json values itself, and the field cannot read what it is given.
    other = connections.create_connection(DEFAULT_DB_ALIAS)  # connects (and is set up) on first use
    try:
        with other.cursor() as cursor:
            cursor.execute("""SELECT '{"a": [1, 2]}'::json""")
            assert cursor.fetchone() == ('{"a": [1, 2]}',)
    finally:
        other.close()
