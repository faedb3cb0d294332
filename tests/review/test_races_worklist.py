"""Races of the worklist's row of an episode (``Assessment.list_*``, kept by the database's
triggers): a coordinator's save and the re-evaluation after a publish at once, and a withdrawal
and a save at once, leave every row what its patient and current evaluation say.

CI runs every tests/*/test_races*.py module on PostgreSQL and again on SQLite.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from eligibility.models import Assessment, Patient
from eligibility.patients import services
from eligibility.review import reevaluation
from eligibility.rulesets import services as rulesets
from tests.conftest import replay_data_migrations
from tests.factories import SCREENING_TO_REVIEW, PatientFactory
from tests.review.test_worklist_rows import assert_rows_right

pytestmark = pytest.mark.django_db(transaction=True)

PATIENTS = 4


@pytest.fixture(autouse=True)
def _migration_data(transactional_db):
    replay_data_migrations()


def _at_once(*functions) -> list:
    """Run ``functions`` in threads (a connection each) released together by a barrier."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait(5)
            results[index] = function()
        except Exception as exc:  # noqa: BLE001 (the test inspects it)
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, function)) for index, function in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_a_save_and_the_reevaluation_at_once_leave_every_row_right(administrator, coordinator):
    for number in range(PATIENTS):
        PatientFactory(by=coordinator, study_id=f"RACE-{number}")
    draft = rulesets.ruleset_draft_create(by=administrator)
    rulesets.ruleset_thresholds_update(draft=draft, values={"alc_min_1e9_per_l": Decimal("0.1")}, by=administrator)
    published = rulesets.ruleset_publish(draft=draft, note="test", by=administrator)
    saved = Assessment.objects.get(patient__study_id="RACE-2")

    def save():
        assessment = Assessment.objects.get(pk=saved.pk)
        return services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="pre_apheresis",
                                          revision=assessment.revision, by=coordinator)

    def reevaluate():
        return reevaluation.reevaluate_open_assessments(ruleset=published, by=administrator, batch_size=1)

    results = _at_once(save, reevaluate)
    assert not [result for result in results if isinstance(result, Exception)], results
    assert_rows_right()
    row = Assessment.objects.get(pk=saved.pk)
    assert (row.list_stage, row.list_defer, row.list_evaluated) == (1, 1, True)  # the save's checklist is current


def test_a_withdrawal_and_a_save_at_once_leave_the_row_right(coordinator):
    patient = PatientFactory(by=coordinator, study_id="RACE-W")
    PatientFactory(by=coordinator, study_id="RACE-X")

    def save():
        assessment = Assessment.objects.get(patient_id=patient.pk)
        return services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW, stage="screening",
                                          revision=assessment.revision, by=coordinator)

    def withdraw():
        return services.patient_withdraw(patient=Patient.objects.get(pk=patient.pk), reason="Entered by mistake",
                                         by=coordinator)

    results = _at_once(save, withdraw)
    assert not isinstance(results[1], Exception), results  # the save may be refused once withdrawn
    assert_rows_right()
    assert not Assessment.objects.get(patient_id=patient.pk).list_shown
    assert list(Assessment.objects.filter(list_shown=True).values_list("list_study", flat=True)) == ["RACE-X"]


def test_the_counts_compacted_while_two_saves_move_patients_stay_exact(coordinator):
    """The kept counts summed into one row per group while two coordinators' saves append their
    deltas, all three released together: no delta lost or counted twice, and no one waits on a counter."""
    from eligibility.review.selectors import worklist_count, worklist_counts_compact

    for number in range(PATIENTS):
        PatientFactory(by=coordinator, study_id=f"COUNT-{number}")
    first, second = (Assessment.objects.get(patient__study_id=f"COUNT-{number}").pk for number in (0, 1))

    def save(pk):
        def run():
            assessment = Assessment.objects.get(pk=pk)
            return services.assessment_update(assessment=assessment, changes=SCREENING_TO_REVIEW,
                                              stage="pre_apheresis", revision=assessment.revision, by=coordinator)
        return run

    results = _at_once(save(first), worklist_counts_compact, save(second), worklist_counts_compact)
    assert not [result for result in results if isinstance(result, Exception)], results
    assert_rows_right()
    assert (worklist_count(), worklist_count(stage="pre_apheresis"), worklist_count(stage="screening")) == (
        PATIENTS, 2, PATIENTS - 2)
