"""The worklist's row of an episode (``Assessment.list_*``, kept by the database's triggers of
migration 0028) and the worklist flat in N (issue 15): the row is right after every write path, a
bulk or raw update included; each order and filter is one index range (no sort of every patient);
the counts are right at their boundaries; a page makes the same queries at 5 and at 40 patients.

The concurrent writes (a save and a re-evaluation at once) are in test_races_worklist.py.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from eligibility.common.vocabulary import OVERALL_LABELS, STAGE_LABELS
from eligibility.models import Assessment, Evaluation, Patient
from eligibility.patients import episodes_services, services
from eligibility.review.selectors import WORKLIST_SORTS, worklist_count, worklist_page, worklist_patients
from tests.factories import SCREENING_TO_REVIEW, PatientFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:No directory at:UserWarning")]


@pytest.fixture
def coordinator():
    return UserFactory(role="Coordinator", first_name="Cora", last_name="Ordinator")


def expected_row(assessment: Assessment) -> dict:
    """What the worklist columns of ``assessment`` must hold, from the rows they copy."""
    patient = Patient.objects.get(pk=assessment.patient_id)
    evaluation = (Evaluation.objects.get(pk=assessment.current_evaluation_id)
                  if assessment.current_evaluation_id else None)
    return {
        "list_shown": patient.assessment_id == assessment.pk and patient.withdrawn_at is None,
        "list_study": patient.study_id.upper(), "list_initials": patient.initials,
        "list_stage": list(STAGE_LABELS).index(assessment.stage),
        "list_evaluated": evaluation is not None,
        "list_result": list(OVERALL_LABELS).index(evaluation.overall) if evaluation else 0,
        "list_flag": evaluation.flag_count if evaluation else 0,
        "list_defer": evaluation.defer_count if evaluation else 0,
        "list_exclude": evaluation.exclude_count if evaluation else 0,
        "list_missing": evaluation.missing_count if evaluation else 0,
    }


def assert_rows_right() -> None:
    """Every episode's worklist columns are what its patient and current evaluation say, and the
    kept counts (PostgreSQL) what the listed rows number by group."""
    for assessment in Assessment.objects.all():
        stored = {field: getattr(assessment, field) for field in expected_row(assessment)}
        assert stored == expected_row(assessment), f"episode {assessment.pk}"
    assert_counts_right()


def assert_counts_right() -> None:
    """The sums of ``WorklistCount`` by group are the listed rows' numbers (both databases' triggers)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT evaluated, result, stage, sum(delta) FROM eligibility_worklistcount "
                       "GROUP BY 1, 2, 3 HAVING sum(delta) <> 0")
        kept = {tuple(row[:3]): row[3] for row in cursor.fetchall()}
        cursor.execute("SELECT list_evaluated, list_result, list_stage, count(*) FROM eligibility_assessment "
                       "WHERE list_shown GROUP BY 1, 2, 3")
        listed = {tuple(row[:3]): row[3] for row in cursor.fetchall()}
    assert kept == listed


def test_the_row_follows_every_write_path(coordinator):
    patient = PatientFactory(by=coordinator, study_id="row-1", initials="AB")  # created: listed, evaluated
    other = PatientFactory(by=coordinator, study_id="ROW-2")
    assert Assessment.objects.get(patient=patient).list_shown
    assert_rows_right()
    assessment = Assessment.objects.get(patient=patient)
    services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="pre_apheresis",
                               revision=assessment.revision, by=coordinator)  # a save: new evaluation, stage
    assessment.refresh_from_db()
    assert (assessment.list_stage, assessment.list_defer) == (1, 1) and assessment.list_flag >= 1
    assert_rows_right()
    services.patient_identity_update(patient=patient, study_id="Row-1b", initials="CD", by=coordinator)
    assert Assessment.objects.get(patient=patient).list_study == "ROW-1B"
    assert_rows_right()
    services.patient_withdraw(patient=Patient.objects.get(pk=patient.pk), reason="Entered by mistake", by=coordinator)
    assert not Assessment.objects.get(patient=patient).list_shown
    assert_rows_right()
    services.patient_restore(patient=Patient.objects.get(pk=patient.pk), by=UserFactory(role="Administrator"))
    assert Assessment.objects.get(patient=patient).list_shown
    first = Patient.objects.get(pk=other.pk).assessment
    second = episodes_services.episode_start(patient=Patient.objects.get(pk=other.pk), kind="recollection",
                                             start_from_previous=False, expected_current_id=first.pk,
                                             by=coordinator)
    assert Assessment.objects.filter(patient=other, list_shown=True).get().pk == second.pk  # the old one left
    assert_rows_right()
    # Bulk and raw updates too (the triggers see every statement): an evaluation's counts, the
    # current evaluation taken away, a stage.
    Evaluation.objects.filter(pk=second.current_evaluation_id).update(overall="cleared", flag_count=7)
    assert Assessment.objects.get(pk=second.pk).list_flag == 7
    Assessment.objects.filter(pk=first.pk).update(current_evaluation=None, stage="pre_infusion")
    assert_rows_right()
    assert not Assessment.objects.get(pk=first.pk).list_evaluated
    # A value the application writes into the columns is recomputed (a stale object saved whole).
    stale = Assessment.objects.get(pk=second.pk)
    Evaluation.objects.filter(pk=second.current_evaluation_id).update(flag_count=3)
    stale.save()
    assert Assessment.objects.get(pk=second.pk).list_flag == 3
    assert_rows_right()


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Tiny tables: the planner would rather read them whole; forbidden that, a sort in the
            # plan means no index gives the order.
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_sort = off")
            try:
                cursor.execute(f"EXPLAIN {sql}", params)
                rows = cursor.fetchall()
            finally:
                cursor.execute("RESET enable_seqscan")
                cursor.execute("RESET enable_sort")
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            rows = cursor.fetchall()
        return "\n".join(" ".join(str(column) for column in row) for row in rows)


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("sort", sorted(WORKLIST_SORTS))
@pytest.mark.parametrize("criteria", [{}, {"result": "deferred"}, {"stage": "screening"}],
                         ids=["all", "by result", "by stage"])
def test_each_order_is_read_from_an_index_a_page_at_a_time(coordinator, sort, direction, criteria):
    """The page's keys come from one range of an index in order: no sort of every matching row (the
    cost of a page does not grow with the programme)."""
    for number in range(3):
        PatientFactory(by=coordinator, study_id=f"PLAN-{number}")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    keys = worklist_patients(sort=sort, direction=direction, **criteria).values_list("pk", flat=True)[50:75]
    plan = _plan(keys)
    assert "worklist_" in plan, plan
    if connection.vendor == "postgresql":
        assert "Sort" not in plan, plan
    else:
        assert "TEMP B-TREE" not in plan.upper(), plan


def _patients(count: int, coordinator, *, start: int = 0) -> None:
    for number in range(start, start + count):
        patient = PatientFactory(by=coordinator, study_id=f"N-{number:03d}")
        if number % 2:
            assessment = Assessment.objects.get(patient=patient)
            services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                                       revision=assessment.revision, by=coordinator)


@pytest.mark.parametrize("query", [{}, {"result": "deferred", "sort": "study_id"}, {"sort": "flag", "page": "2"},
                                   {"stage": "screening", "sort": "result", "dir": "desc"}])
def test_a_worklist_page_makes_the_same_queries_at_5_and_40_patients(client, coordinator, query):
    """(Page 2 at 30 and 65: a page that exists at both sizes; one past the last is read otherwise.)"""
    client.force_login(coordinator)
    url = reverse("worklist")
    small_size = 30 if "page" in query else 5
    _patients(small_size, coordinator)
    client.get(url, query)  # warm the per-process caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(url, query).status_code == 200
    _patients(35, coordinator, start=small_size)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url, query).status_code == 200
    assert len(large) == len(small)


def test_the_filtered_count_at_its_boundaries(client, coordinator):
    """26 deferred patients: two pages; one withdrawn, one whose episode was replaced, one cleared
    since: each leaves the count, the last page and the caption at once."""
    client.force_login(coordinator)
    for number in range(26):
        patient = PatientFactory(by=coordinator, study_id=f"B-{number:02d}")
        assessment = Assessment.objects.get(patient=patient)
        services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                                   revision=assessment.revision, by=coordinator)
    PatientFactory(by=coordinator, study_id="B-OTHER")  # incomplete, not deferred
    assert worklist_count(result="deferred") == 26
    page = worklist_page(result="deferred", sort="study_id", direction="asc", number=2, per_page=25)
    assert [patient.study_id for patient in page] == ["B-25"] and page.paginator.num_pages == 2
    assert "26 patients" in client.get(reverse("worklist"), {"result": "deferred"}).content.decode()

    services.patient_withdraw(patient=Patient.objects.get(study_id="B-25"), reason="Entered by mistake",
                              by=coordinator)
    assert worklist_count(result="deferred") == 25
    page = worklist_page(result="deferred", sort="study_id", direction="asc", number=2, per_page=25)
    assert page.paginator.num_pages == 1 and page.number == 1 and len(page) == 25

    replaced = Patient.objects.get(study_id="B-24")
    episodes_services.episode_start(patient=replaced, kind="recollection", start_from_previous=False,
                                    expected_current_id=replaced.assessment_id, by=coordinator)
    assert worklist_count(result="deferred") == 24  # the new episode is not deferred; the old one is not listed
    assert worklist_count() == 27 - 1  # every patient once (the replaced one by its new episode), not the withdrawn
    assessment = Assessment.objects.get(patient__study_id="B-00")
    evaluation = Evaluation.objects.get(pk=assessment.current_evaluation_id)
    Evaluation.objects.filter(pk=evaluation.pk).update(overall="cleared", defer_count=0)
    assert worklist_count(result="deferred") == 23
    assert worklist_count(result="cleared") == len(list(worklist_patients(result="cleared"))) == 1
    for criteria in ({}, {"result": "deferred"}, {"stage": "screening"}, {"result": "incomplete", "stage": "screening"},
                     {"search": "b-0"}, {"result": "nonsense"}, {"stage": "nonsense"}):
        assert worklist_count(**criteria) == len(list(worklist_patients(**criteria))), criteria


def test_the_triggers_are_there_after_every_migration():
    """SQLite rebuilds a table to alter it (a later migration's field on the episodes) and drops its
    triggers with the old table: such a migration must create them again (see migration 0028)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {row[0] for row in cursor.fetchall() if row[0].startswith("eligibility_worklist")}
    expected = ({"eligibility_worklist_row", "eligibility_worklist_patient", "eligibility_worklist_evaluation",
                 "eligibility_worklist_count_insert", "eligibility_worklist_count_update",
                 "eligibility_worklist_count_delete"}
                if connection.vendor == "postgresql" else
                {"eligibility_worklist_row_insert", "eligibility_worklist_row_update", "eligibility_worklist_patient",
                 "eligibility_worklist_evaluation", "eligibility_worklist_count_insert",
                 "eligibility_worklist_count_update", "eligibility_worklist_count_delete"})
    assert names == expected


def test_the_caption_count_reads_the_kept_counts_and_is_compacted_past_its_limit(coordinator, monkeypatch):
    """Flat in N: the count is one query on the kept counts (never the episodes' table); once they
    hold more rows than COUNT_ROWS_KEPT the read sums them into one row per group, same totals."""
    from eligibility.models import WorklistCount
    from eligibility.review import selectors

    patients = [PatientFactory(by=coordinator, study_id=f"C-{n}") for n in range(4)]
    for n, patient in enumerate(patients[:3]):  # each save moves a patient to another stage: deltas appended
        assessment = Assessment.objects.get(patient=patient)
        services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW if n else {},
                                   stage="pre_apheresis", revision=assessment.revision, by=coordinator)
    assert_rows_right()
    rows = WorklistCount.objects.count()
    assert rows > 3
    with CaptureQueriesContext(connection) as queries:
        assert worklist_count() == 4
        assert worklist_count(stage="pre_apheresis") == 3
        assert worklist_count(stage="screening") == 1
    assert all("eligibility_assessment" not in query["sql"] for query in queries.captured_queries)
    assert WorklistCount.objects.count() == rows  # within the limit: left as they are
    monkeypatch.setattr(selectors, "COUNT_ROWS_KEPT", rows - 1)  # the boundary's neighbour: past it
    assert worklist_count() == 4
    assert WorklistCount.objects.count() == len({(c.evaluated, c.result, c.stage) for c in WorklistCount.objects.all()})
    assert WorklistCount.objects.count() < rows
    assert worklist_count(stage="pre_apheresis") == 3 and worklist_count(stage="screening") == 1
    assert_rows_right()
    compacted = WorklistCount.objects.count()
    monkeypatch.setattr(selectors, "COUNT_ROWS_KEPT", compacted + 2)
    assessment = Assessment.objects.get(patient=patients[3])  # leaves screening for pre-apheresis: two deltas
    services.assessment_update(assessment=assessment, changes={}, stage="pre_apheresis",
                               revision=assessment.revision, by=coordinator)
    assert worklist_count(stage="pre_apheresis") == 4
    assert WorklistCount.objects.count() == compacted + 2  # at the limit itself: kept as they are
    assessment = Assessment.objects.get(patient=patients[3])  # and back: two more, past the limit
    services.assessment_update(assessment=assessment, changes={}, stage="screening",
                               revision=assessment.revision, by=coordinator)
    assert worklist_count(stage="screening") == 1
    assert WorklistCount.objects.count() <= compacted
    assert_rows_right()


def test_the_open_questions_are_read_from_their_index_even_when_there_are_none(coordinator):
    """The worklist's open-questions section: the planner, told (ANALYZE) that the episodes are
    many and the questions none, still reads the not-closed questions' partial index, never the
    episodes' table (SQLite read every episode to find no question: 7 ms at 10,000 and growing)."""
    from eligibility.review.handoffs.selectors import open_questions, open_questions_query

    for n in range(30):
        PatientFactory(by=coordinator, study_id=f"Q-{n}")
    sql, params = open_questions_query().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " | ".join(row[-1] for row in cursor.fetchall())
            assert "question_not_closed_idx" in plan and "SCAN eligibility_assessment" not in plan, plan
        else:
            cursor.execute("EXPLAIN " + sql, params)
            plan = " | ".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on eligibility_assessment" not in plan, plan
    assert list(open_questions()) == []
